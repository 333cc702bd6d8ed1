package printer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// comp is an installed wearing component. Its life and warning point are
// hidden: only its visible condition (nozzle health, intensity, filter life)
// and its symptoms reach the device API.
type comp struct {
	kind, slot   int
	uuid, serial string
	installed    time.Time
	manufactured time.Time
	wear         float64 // usage hours at the nominal rate, spent
	used         float64 // usage hours
	life         float64 // hidden: wear at which it fails
	warnAt       float64 // hidden: wear at which the warning fires; > life when silent
	nextMinor    float64 // wear at the next minor symptom
	rate         float64 // wear multiplier of an injected fault
	warned       bool
	warnedAt     time.Time
	drop         float64 // visible condition lost once warned
	minors       int     // recoveries, deviations
	agentCC      float64 // printheads: agent fired
	lastErr      string
	lastErrTime  time.Time
	nonOrig      bool // printheads: non-original agent was used
	expired      bool // printheads: expired agent was used
	failed       bool
	injected     bool // failed by an injected fault
	failedAt     time.Time
	removed      time.Time
	lowSent      bool // the visible-condition warning was sent
}

type agentState struct {
	levelML float64
	usedCC  float64 // lifetime
	inserts int64   // build unit inserts with this cartridge
	low     bool
	nonOrig bool
	expired bool
}

// supply is what the site buys: original or not, in date or not.
type supply struct{ nonOriginal, expired bool }

type rollState struct {
	partNumber string
	usage      float64 // percent
	lowSent    bool
}

type buildUnit struct {
	serial, partNumber string
	inserts            int64
	status             string
	usageH             float64
	material           int
	recycled           float64 // share 0..1
	kg                 float64
	nonOrig, expired   bool
	age                float64 // mean reuse cycles of the recycled powder
	connected          time.Time
}

type counters struct {
	totalJobs, completedJobs, layers, parts int64
	printVolCM3                             float64
	printMS                                 int64
	agentsML                                []float64
	materialKG                              float64
	coolingH, lampH, agentSysH              float64
	tanks, wipes, carriage, systemErrors    int64
}

var lampPositions = [...]string{"fusing-1", "fusing-2", "warming"}

// compName names a component within its kind.
func (p *Printer) compName(kind, slot int) string {
	switch kind {
	case wkPrinthead:
		return fmt.Sprintf("PH%d", slot+1)
	case wkLamp:
		if slot < len(lampPositions) {
			return lampPositions[slot]
		}
	case wkFilter:
		return "cabinet"
	case wkCooling:
		return "main-loop"
	case wkCarriage:
		return "print-carriage"
	}
	return fmt.Sprintf("#%d", slot)
}

// initHardware installs new components, cartridges, roll and build unit.
func (p *Printer) initHardware(idRng *rand.Rand) {
	for s := range p.spec.Printheads {
		p.comps = append(p.comps, p.newComp(wkPrinthead, s))
	}
	for s := range lampPositions {
		p.comps = append(p.comps, p.newComp(wkLamp, s))
	}
	p.comps = append(p.comps, p.newComp(wkFilter, 0), p.newComp(wkCooling, 0), p.newComp(wkCarriage, 0))
	p.agents = make([]agentState, len(p.tab.Agents))
	p.agentSupply = make([]supply, len(p.tab.Agents))
	p.ctr.agentsML = make([]float64, len(p.tab.Agents))
	for i, a := range p.tab.Agents {
		p.agents[i] = agentState{levelML: a.CartridgeML}
	}
	p.roll = rollState{partNumber: "CR-ROLL-1"}
	p.unit = buildUnit{
		serial: "BU" + randomCode(idRng, 10), partNumber: "BU-" + p.spec.ModelNumber[:6],
		status: "empty", connected: p.now,
	}
}

func (p *Printer) newComp(kind, slot int) *comp {
	w := &p.tab.Wear[kind]
	c := &comp{
		kind: kind, slot: slot, rate: 1,
		uuid: randomUUID(p.rng), serial: w.PartNumber[:3] + randomCode(p.rng, 9),
		installed:    p.now,
		manufactured: p.now.Add(-p.between(30*24*time.Hour, 240*24*time.Hour)).Truncate(24 * time.Hour),
	}
	c.life = w.Scale * math.Pow(p.rng.ExpFloat64(), 1/w.Shape)
	c.warnAt = math.Inf(1)
	if p.rng.Float64() >= w.SilentShare {
		c.warnAt = max(c.life-w.LeadHours*p.rng.ExpFloat64(), 0)
	}
	p.scheduleMinor(c)
	return c
}

// scheduleMinor draws the wear at which the next minor symptom shows: more
// often as the component wears, much more often once it is failing.
func (p *Printer) scheduleMinor(c *comp) {
	w := &p.tab.Wear[c.kind]
	if w.MinorPerHour == 0 {
		c.nextMinor = math.Inf(1)
		return
	}
	rate := w.MinorPerHour * (1 + 2*c.wear/w.Scale)
	if c.warned {
		rate *= 6
	}
	c.nextMinor = c.wear + p.rng.ExpFloat64()/rate
}

// condition is a component's visible condition in percent (printheads:
// nozzle health, lamps: intensity, filter: life left) or, for cooling and
// carriage, their measured deviation.
func (p *Printer) condition(c *comp) float64 {
	f := c.wear / p.tab.Wear[c.kind].Scale
	switch c.kind {
	case wkPrinthead:
		return max(100-10*f-c.drop, 0)
	case wkLamp:
		return max(100-20*f-c.drop, 0)
	case wkFilter:
		return max(100*(1-f)-c.drop, 0)
	case wkCooling:
		return 2 + 3*f + c.drop
	default:
		return 5 + 10*f + c.drop
	}
}

// hazard is the component's hidden cumulative hazard so far.
func (p *Printer) hazard(c *comp) float64 {
	w := &p.tab.Wear[c.kind]
	return math.Pow(c.wear/w.Scale, w.Shape)
}

// headAgents returns the agents a printhead slot fires.
func headAgents(slot int) (int, int) {
	switch slot {
	case 4:
		return 2, 3 // cyan, magenta
	case 5:
		return 4, 5 // yellow, black
	}
	return 0, 1 // fusing, detailing
}

// wearLayer spends one layer of dt hours and fused area areaCM2 on the
// consumables and components. It returns the component that failed, if any.
func (p *Printer) wearLayer(dtH, areaCM2 float64) *comp {
	j := p.job
	// Agents.
	used := [8]float64{}
	for i := range p.agents {
		a := &p.tab.Agents[i]
		ml := a.PerLayerML + a.PerCM2ML*areaCM2
		used[i] = ml
		st := &p.agents[i]
		st.levelML -= ml
		st.usedCC += ml
		p.ctr.agentsML[i] += ml
		if !st.low && st.levelML <= a.CartridgeML*agentLowPercent/100 {
			st.low = true
			p.emit(evAgentLow, j.no, uint16(i), 0, 100*st.levelML/a.CartridgeML, 0)
		}
		if st.levelML <= 0 {
			p.newCartridge(i)
		}
	}
	// Service station and carriage.
	p.ctr.carriage += 2
	if j.done%layersPerWipe == 0 {
		p.ctr.wipes++
		p.roll.usage += 100.0 / rollWipes
		if !p.roll.lowSent && p.roll.usage >= rollLowPercent {
			p.roll.lowSent = true
			p.emit(evCleaningRollLow, j.no, 0, 0, p.roll.usage, 0)
		}
		if p.roll.usage >= 100 {
			p.newRoll()
		}
	}
	// Components.
	dust := p.tab.Materials[j.material].DustFactor
	var failed *comp
	for _, c := range p.comps {
		m := c.rate
		switch c.kind {
		case wkPrinthead:
			a, b := headAgents(c.slot)
			share := 1.0
			if c.slot < 4 {
				share = 0.25
			}
			c.agentCC += share * (used[a] + used[b])
			if p.agents[a].nonOrig || p.agents[b].nonOrig {
				m *= nonOriginalAgentWear
				c.nonOrig = true
			}
			if p.agents[a].expired || p.agents[b].expired {
				m *= expiredAgentWear
				c.expired = true
			}
		case wkFilter:
			m *= dust
		}
		c.wear += dtH * m
		c.used += dtH
		if c.wear >= c.nextMinor {
			c.minors++
			p.symptom(c, compMinor)
			p.scheduleMinor(c)
		}
		if !c.warned && c.wear >= c.warnAt {
			c.warned, c.warnedAt = true, p.now
			c.drop = p.warnDrop(c.kind)
			p.symptom(c, compWarn)
			p.scheduleMinor(c)
		}
		if !c.lowSent && !c.warned && (c.kind == wkLamp && p.condition(c) < 80 || c.kind == wkFilter && p.condition(c) < 20) {
			c.lowSent = true
			p.symptom(c, compWarn)
		}
		if failed == nil && c.wear >= c.life {
			failed = c
		}
	}
	return failed
}

// warnDrop draws how much visible condition a failing component loses.
func (p *Printer) warnDrop(kind int) float64 {
	switch kind {
	case wkPrinthead:
		return 15 + 10*p.rng.Float64()
	case wkLamp:
		return 6 + 4*p.rng.Float64()
	case wkFilter:
		return 8 + 5*p.rng.Float64()
	case wkCooling:
		return 3 + 3*p.rng.Float64()
	}
	return 10 + 10*p.rng.Float64()
}

// symptom emits the event and log line of a component's minor symptom,
// warning, failure or replacement, and notes warnings on the current job.
func (p *Printer) symptom(c *comp, what int) {
	tmpl := evCompBase + uint16(c.kind*compEventCount+what)
	var jobNo uint16
	if p.job != nil && p.phase == phasePrinting {
		jobNo = p.job.no
	}
	cond := p.condition(c)
	p.emit(tmpl, jobNo, uint16(c.kind), uint16(c.slot), cond, c.used)
	switch c.kind {
	case wkPrinthead:
		p.log(lgHeadEvent, jobNo, uint16(c.slot), uint16(what), float64(c.minors), 0)
	case wkLamp:
		p.log(lgLampEvent, jobNo, uint16(c.slot), uint16(what), 0, 0)
	case wkCooling, wkFilter:
		p.log(lgCoolEvent, jobNo, 0, uint16(what), cond, 0)
	case wkCarriage:
		p.log(lgCarriage, jobNo, uint16(what%2), 0, float64(p.ctr.carriage), 0)
	}
	if what == compFail || what == compWarn || what == compMinor && c.kind == wkPrinthead && c.warned {
		if p.job != nil && p.phase == phasePrinting && len(p.job.warnings) < 16 {
			t := &p.evt[tmpl]
			p.job.warnings = append(p.job.warnings, fleet.JobWarning{
				ID: randomCode(p.rng, 8), Message: t.Code + ": " + t.Details(p, &rec{a: uint16(c.kind), b: uint16(c.slot), v: float32(cond), w: float32(c.used)}) + p.jobContext(),
				Severity: t.Severity, Time: p.now,
			})
		}
	}
	if what == compFail {
		c.lastErr, c.lastErrTime = p.evt[tmpl].Code, p.now
	}
}

// replace swaps a component for a new one.
func (p *Printer) replace(c *comp) {
	c.removed = p.now
	p.history = append(p.history, c)
	if len(p.history) > p.truthComps {
		p.history = p.history[1:]
	}
	n := p.newComp(c.kind, c.slot)
	for i, x := range p.comps {
		if x == c {
			p.comps[i] = n
		}
	}
	p.symptom(n, compReplaced)
	p.log(lgPanel, 0, 2, 0, 0, 0)
}

// maintain replaces, before a job, what an operator would: weak lamps,
// clogged filters, an almost used-up cleaning roll.
func (p *Printer) maintain() {
	for _, c := range p.comps {
		w := &p.tab.Wear[c.kind]
		if w.PreventAt > 0 && (p.condition(c) <= w.PreventAt || c.kind == wkFilter && c.warned) {
			p.replace(c)
		}
	}
	if p.roll.usage >= 95 {
		p.newRoll()
	}
}

func (p *Printer) newRoll() {
	p.emit(evCleaningRollReplaced, 0, 0, 0, p.roll.usage, 0)
	p.roll = rollState{partNumber: p.roll.partNumber}
	p.log(lgPanel, 0, 2, 0, 0, 0)
}

// newCartridge inserts a new cartridge of agent i, original or not as the
// site's supply says.
func (p *Printer) newCartridge(i int) {
	a := &p.tab.Agents[i]
	st := &p.agents[i]
	p.emit(evAgentReplaced, 0, uint16(i), 0, max(100*st.levelML/a.CartridgeML, 0), 0)
	s := p.agentSupply[i]
	*st = agentState{levelML: a.CartridgeML, usedCC: st.usedCC, nonOrig: s.nonOriginal, expired: s.expired}
	p.ctr.tanks++
	if s.nonOriginal {
		p.emit(evAgentNonOriginal, 0, uint16(i), 0, 100, 0)
	}
	if s.expired {
		p.emit(evAgentExpired, 0, uint16(i), 0, 100, 0)
	}
	p.log(lgPanel, 0, 2, 0, 0, 0)
}

// Counters returns the lifetime usage counters.
func (p *Printer) Counters() fleet.Counters {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	c := &p.ctr
	agents := make(map[string]float64, len(p.tab.Agents))
	for i, a := range p.tab.Agents {
		agents[a.Name] = round(c.agentsML[i], 1)
	}
	filter := 100.0
	for _, x := range p.comps {
		if x.kind == wkFilter {
			filter = p.condition(x)
		}
	}
	return fleet.Counters{
		TotalJobs: c.totalJobs, CompletedJobs: c.completedJobs, Layers: c.layers, Parts: c.parts,
		PrintVolumeCM3: round(c.printVolCM3, 1), PrintTimeSec: float64(c.printMS) / 1000,
		AgentsConsumedML: agents, MaterialConsumedKG: round(c.materialKG, 3),
		CoolingSystemHours: round(c.coolingH, 2), FilterStatusPercent: round(filter, 1),
		LampUsageHours: round(c.lampH, 2), IntermediateTanks: c.tanks, AgentSystemHours: round(c.agentSysH, 2),
		ServiceStationUses: c.wipes, CarriageCycles: c.carriage, SystemErrors: c.systemErrors, Time: p.now,
	}
}

// Consumables returns the state of everything that wears or runs out.
func (p *Printer) Consumables() fleet.Consumables {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	out := fleet.Consumables{Time: p.now}
	rollStatus := "ok"
	if p.roll.usage >= rollLowPercent {
		rollStatus = "low"
	}
	out.CleaningRoll = fleet.CleaningRoll{PartNumber: p.roll.partNumber, Status: rollStatus, UsagePercent: round(p.roll.usage, 1)}
	for i, a := range p.tab.Agents {
		st := p.agents[i]
		level := max(100*st.levelML/a.CartridgeML, 0)
		status := "ok"
		switch {
		case st.nonOrig:
			status = "non-original"
		case st.expired:
			status = "expired"
		case level <= 0:
			status = "empty"
		case st.low:
			status = "low"
		}
		out.Agents = append(out.Agents, fleet.AgentSupply{
			Agent: a.Name, UsedCC: round(st.usedCC, 1), BuildUnitInserts: st.inserts,
			SupplyStatus: status, SupplyLevelPercent: round(level, 1),
		})
	}
	for _, c := range p.comps {
		switch c.kind {
		case wkPrinthead:
			out.Printheads = append(out.Printheads, p.printhead(c))
		case wkLamp:
			status := "ok"
			in := p.condition(c)
			if in < 80 || c.warned {
				status = "weak"
			}
			if c.failed {
				status = "failed"
			}
			out.Lamps = append(out.Lamps, fleet.Lamp{Position: p.compName(c.kind, c.slot), Hours: round(c.used, 2), IntensityPercent: round(in, 1), Status: status})
		}
	}
	u := p.unit
	out.BuildUnits = fleet.BuildUnits{TotalInserts: u.inserts, Installed: &fleet.BuildUnit{
		PartNumber: u.partNumber, SerialNumber: u.serial, Inserts: u.inserts, Status: u.status,
		UsageHours: round(u.usageH, 2), Material: p.tab.Materials[u.material].Name,
		RecycledPercent: round(100*u.recycled, 1), MaterialKG: round(u.kg, 2),
		NonOriginalMaterial: u.nonOrig, ExpiredMaterial: u.expired,
		Printers: []fleet.BuildUnitPrinter{{ProductNumber: p.spec.ModelNumber, SerialNumber: p.serial, Firmware: p.firmware, Connected: u.connected}},
	}}
	return out
}

func (p *Printer) printhead(c *comp) fleet.Printhead {
	status := "ok"
	health := p.condition(c)
	if c.warned || health < 80 {
		status = "degraded"
	}
	if c.failed {
		status = "failed"
	}
	warrantyEnd := c.installed.AddDate(1, 0, 0)
	warranty := "in warranty"
	if c.nonOrig {
		warranty = "void"
	} else if !p.now.Before(warrantyEnd) {
		warranty = "expired"
	}
	kind := "fusing/detailing"
	if c.slot >= 4 {
		kind = "color"
	}
	return fleet.Printhead{
		Slot: c.slot + 1, Type: kind, UUID: c.uuid, Status: status, PartNumber: p.tab.Wear[wkPrinthead].PartNumber,
		SerialNumber: c.serial, AgentUsedCC: round(c.agentCC, 1), InstallDate: c.installed, UsageHours: round(c.used, 2),
		RecoveryLevel: c.minors, LastErrorCode: c.lastErr, LastErrorTime: c.lastErrTime,
		NonOriginalAgent: c.nonOrig, ExpiredAgent: c.expired, WarrantyEnd: warrantyEnd, WarrantyStatus: warranty,
		ManufactureDate: c.manufactured,
	}
}

func round(v float64, digits int) float64 {
	s := math.Pow(10, float64(digits))
	return math.Round(v*s) / s
}

// jobContext is what a warning says of the job it hit, as a real printer
// writes it: the job's name, its first part's name and its file.
func (p *Printer) jobContext() string {
	if p.job == nil {
		return ""
	}
	name, _, _, file := p.jobPrivate(p.job.no)
	part := ""
	if len(p.job.parts) > 0 {
		part = p.job.parts[0].name
	}
	return fmt.Sprintf(" (job \"%s\", part \"%s\", file %s)", name, part, file)
}
