package printer

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

var _ deviceapi.Device = (*Printer)(nil)

// Options configure a Printer. The zero value works.
type Options struct {
	// Name is the printer's own name, e.g. "3DP 1". Zero means "Printer "
	// and the end of the serial number.
	Name string
	// Model is "4200" or "5200" (or "FF-4200", "FF-5200"). Zero means
	// "4200". New treats an unknown model as "4200"; call Validate first to
	// refuse it instead.
	Model string
	// Seed makes the printer: its UUID, serial number and whole history.
	Seed int64
	// Clock is the time the simulation follows. Zero means clock.Real{}.
	Clock clock.Clock
	// Firmware is the firmware release reported. Zero means the model's.
	Firmware string
	// EventCapacity is how many events the printer keeps for readers.
	// Zero means 4,096; older events are gone, so a slow reader sees a gap.
	EventCapacity int
	// LayerCapacity is how many layer records the printer keeps. Zero
	// means 20,000 (two days of printing or more).
	LayerCapacity int
	// LogCapacity is how many lines each device log keeps. Zero means 512.
	LogCapacity int
	// JobCapacity is how many job feed entries the printer keeps (about
	// five per job). Zero means 160.
	JobCapacity int
	// TruthComponents and TruthJobs are how many replaced components and
	// finished jobs Truth keeps. Zero means 64 and 32; a scoring run that
	// compares forecasts with every failure sets them above what it prints.
	TruthComponents, TruthJobs int
}

// Feed capacities when the options leave them zero.
const (
	defaultEventCapacity = 4096
	defaultLayerCapacity = 20_000
	defaultLogCapacity   = 512
	defaultJobCapacity   = 160
	defaultTruthJobs     = 32 // finished jobs whose ground truth is kept
	defaultTruthComps    = 64 // replaced components whose ground truth is kept
	jobIDSlots           = 1024
)

// Validate reports whether the options name a known model.
func (o Options) Validate() error {
	_, err := specFor(processTable().Models, o.Model)
	return err
}

func specFor(models []processSpec, model string) (processSpec, error) {
	if model == "" {
		model = "4200"
	}
	var known []string
	for _, s := range models {
		if model == s.Model || model == strings.TrimPrefix(s.Model, "FF-") {
			return s, nil
		}
		known = append(known, strings.TrimPrefix(s.Model, "FF-"))
	}
	return processSpec{}, fmt.Errorf("printer model %q: want one of %s", model, strings.Join(known, ", "))
}

// phase is what the simulated printer is doing.
type phase uint8

const (
	phaseIdle phase = iota
	phasePrinting
	phaseCooling
	phaseError
)

// activeFault is what stopped the printer.
type activeFault struct {
	transient int   // index into the fault table, or -1
	comp      *comp // the failed component, or nil
	since     time.Time
}

type fwChange struct {
	ms      int64
	version string
}

type jobIDSlot struct {
	no               uint16
	id               string
	name, user, host string // private, as real printers write them into logs and events
}

// Printer is a virtual printer. It is safe for concurrent use.
type Printer struct {
	tab      processData
	evt      []evTemplate
	lgt      []logTemplate
	lgIdx    []int // log ring of each log template
	spec     processSpec
	clk      clock.Clock
	id       fleet.PrinterID
	serial   string
	name     string
	instance string
	started  time.Time

	truthJobs, truthComps int // how many finished jobs and replaced components Truth keeps

	mu          sync.Mutex
	firmware    string
	fwHist      []fwChange
	paramSet    string
	paramRev    int
	params      *fleet.ParameterSet // installed set's content; nil: the model's defaults
	rng         *rand.Rand
	now         time.Time // the time the model has advanced to
	phase       phase
	phaseEnd    time.Time // when the phase (or the current layer) ends; zero: waits for a job
	job         *job      // printing, cooling, or paused by a fault
	pending     []*job
	unpacking   *job      // cooled job being unpacked
	unpackEnd   time.Time // zero when none
	nextArrival time.Time
	nextFault   time.Time // zero while a fault is active
	nextSample  time.Time
	fault       activeFault
	resume      phase // the phase a fault interrupted
	updating    bool  // BeginUpdate holds the printer: no job starts
	jobNo       uint16
	jobIDs      []jobIDSlot

	events ring[rec]
	logs   []ring[rec] // by position in fleet.LogKinds
	layers ring[layerRec]
	jobs   ring[jobEntry]
	recent []*job // finished jobs, newest last, for Truth

	comps       []*comp      // installed components: printheads, lamps, filter, cooling, carriage
	history     []*comp      // replaced components, newest last, for Truth
	agents      []agentState // by tab.Agents
	agentSupply []supply     // the site's agent supply, by tab.Agents
	roll        rollState
	unit        buildUnit
	powder      supply // the powder the site loads
	ctr         counters
}

// New returns a printer that starts idle at opts.Clock's now, with a few
// jobs queued.
func New(opts Options) *Printer {
	tab := processTable()
	spec, err := specFor(tab.Models, opts.Model)
	if err != nil {
		spec = tab.Models[0]
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Firmware == "" {
		opts.Firmware = spec.Firmware
	}
	opts.EventCapacity = orDefault(opts.EventCapacity, defaultEventCapacity)
	opts.LayerCapacity = orDefault(opts.LayerCapacity, defaultLayerCapacity)
	opts.LogCapacity = orDefault(opts.LogCapacity, defaultLogCapacity)
	opts.JobCapacity = orDefault(opts.JobCapacity, defaultJobCapacity)
	// Identity and history draw from separate streams, so changing the
	// simulation never changes a printer's UUID or serial number.
	idRng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x1d))
	serial := spec.ModelNumber[:4] + randomCode(idRng, 8)
	if opts.Name == "" {
		opts.Name = "Printer " + serial[len(serial)-4:]
	}
	now := opts.Clock.Now()
	p := &Printer{
		tab:      tab,
		lgt:      logTemplates(),
		spec:     spec,
		clk:      opts.Clock,
		id:       fleet.PrinterID(randomUUID(idRng)),
		serial:   serial,
		name:     opts.Name,
		instance: crand.Text(),
		started:  now,
		firmware: opts.Firmware,
		fwHist:   []fwChange{{ms: now.UnixMilli(), version: opts.Firmware}},
		paramSet: spec.ParameterSet,
		rng:      rand.New(rand.NewPCG(uint64(opts.Seed), 0x51)),
		now:      now,
		events:   newRing[rec](opts.EventCapacity),
		layers:   newRing[layerRec](opts.LayerCapacity),
		jobs:     newRing[jobEntry](opts.JobCapacity),

		truthJobs:  orDefault(opts.TruthJobs, defaultTruthJobs),
		truthComps: orDefault(opts.TruthComponents, defaultTruthComps),
	}
	p.evt = eventTemplates(&p.tab)
	for _, t := range p.lgt {
		p.lgIdx = append(p.lgIdx, logIndex(t.Log))
	}
	p.logs = make([]ring[rec], len(fleet.LogKinds()))
	for i := range p.logs {
		p.logs[i] = newRing[rec](opts.LogCapacity)
	}
	p.initHardware(idRng)
	p.emit(evPrinterStarted, 0, 0, 0, 0, 0)
	p.log(lgSessionStart, 0, 0, 0, 0, 0)
	p.log(lgState, 0, uint16(phaseIdle), uint16(phaseIdle), 0, 0)
	for range 1 + p.rng.IntN(maxPending) {
		p.enqueue(p.randomJob())
	}
	// Start within the hour, so printers with different seeds drift apart.
	p.phaseEnd = now.Add(p.between(prepMin, time.Hour))
	p.nextArrival = now.Add(p.exp(meanArrival))
	p.nextFault = now.Add(p.exp(meanFaultGap))
	p.nextSample = now.Add(sampleEvery)
	return p
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// SetFirmware records that firmware version is now installed (called by
// the update client after a verified update). New events carry it.
func (p *Printer) SetFirmware(version string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	if version == p.firmware {
		return
	}
	p.firmware = version
	p.fwHist = append(p.fwHist, fwChange{ms: p.now.UnixMilli(), version: version})
	if len(p.fwHist) > 64 {
		p.fwHist = p.fwHist[1:]
	}
	p.emit(evFirmwareChanged, 0, 0, 0, 0, 0)
	p.log(lgSessionConfig, 0, uint16(p.paramRev), 0, 0, 0)
}

// SetParameterSet records that the print-parameter set name is now in
// effect for new jobs (called by the update client).
func (p *Printer) SetParameterSet(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	if name == p.paramSet {
		return
	}
	p.paramSet = name
	p.paramRev++
	p.emit(evParameterSetChanged, 0, uint16(p.paramRev), 0, 0, 0)
	p.log(lgSessionConfig, 0, uint16(p.paramRev), 0, 0, 0)
}

// Identity returns the printer's identification.
func (p *Printer) Identity() deviceapi.Identity {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	b := p.spec.BuildMM
	return deviceapi.Identity{
		Identity: fleet.Identity{
			PrinterID:    p.id,
			Name:         p.name,
			Model:        p.spec.Model,
			ModelNumber:  p.spec.ModelNumber,
			SerialNumber: p.serial,
			Firmware:     p.firmware,
			ParameterSet: p.paramSet,
			Size:         fmt.Sprintf("%gx%gx%g mm", b[0], b[1], b[2]),
			DiskBytes:    p.spec.DiskBytes,
			MemoryBytes:  p.spec.MemoryBytes,
			Date:         p.now,
			UptimeSec:    int64(p.now.Sub(p.started) / time.Second),
		},
		Instance: p.instance,
	}
}

// Status returns what the printer is doing now.
func (p *Printer) Status() deviceapi.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	s := deviceapi.Status{PendingJobs: len(p.pending), Time: p.now}
	switch p.phase {
	case phaseIdle:
		s.State, s.Activity = fleet.StateIdle, "idle"
		if p.updating {
			s.Activity = "installing an update"
		}
	case phasePrinting:
		s.State = fleet.StatePrinting
		s.Activity = fmt.Sprintf("printing layer %d of %d", p.job.done+1, p.job.layers)
		s.Job, s.ETCSeconds = p.printingJob(p.phaseEnd.Sub(p.now))
	case phaseCooling:
		s.State, s.Activity = fleet.StateCooling, "cooling"
		s.Job = p.currentJob(1)
		s.ETCSeconds = ceilSeconds(p.phaseEnd.Sub(p.now))
	case phaseError:
		s.State, s.Activity = fleet.StateError, "error: "+p.faultDescription()
		if p.job != nil {
			// The interrupted layer is printed again once the repair is done.
			s.Job, s.ETCSeconds = p.printingJob(p.job.layerDur)
			s.ETCSeconds += ceilSeconds(p.phaseEnd.Sub(p.now))
		}
	}
	return s
}

// printingJob returns the current job and the estimated time to finish it,
// given what is left of the current layer. The estimate is what a printer
// can know: the layers left times the running mean layer time (weighted
// with the job's planned layer time while few layers are done), less the
// time already spent on the current layer.
func (p *Printer) printingJob(layerLeft time.Duration) (*deviceapi.CurrentJob, int64) {
	j := p.job
	elapsed := j.layerDur - layerLeft
	frac := float64(elapsed) / float64(j.layerDur)
	mean := (planPriorLayers*j.planned + j.sum) / time.Duration(planPriorLayers+j.done)
	etc := time.Duration(j.layers-j.done)*mean - elapsed
	return p.currentJob(min((float64(j.done)+frac)/float64(j.layers), 1)), ceilSeconds(max(etc, 0))
}

func (p *Printer) currentJob(progress float64) *deviceapi.CurrentJob {
	j := p.job
	return &deviceapi.CurrentJob{
		ID: j.id, Progress: progress, LayersDone: j.done, LayersTotal: j.layers,
		Private: deviceapi.JobPrivate{Name: j.name, User: j.user, Host: j.host},
	}
}

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// Events returns the events with Seq > after, oldest first, at most limit.
func (p *Printer) Events(after uint64, limit int) deviceapi.EventPage {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	items, next := page(&p.events, after, limit, p.renderEvent)
	return deviceapi.EventPage{Instance: p.instance, Items: items, Next: next, First: p.events.first()}
}

func (p *Printer) renderEvent(seq uint64, r *rec) fleet.Event {
	t := &p.evt[r.tmpl]
	return fleet.Event{
		Seq: seq, Code: t.Code, Description: t.Description, Severity: t.Severity,
		Time: time.UnixMilli(r.ms).UTC(), Firmware: p.firmwareAt(r.ms), Subsystem: t.Subsystem,
		Details: t.Details(p, r),
	}
}

// Layers returns the layer records with Seq > after, oldest first, at most limit.
func (p *Printer) Layers(after uint64, limit int) deviceapi.LayerPage {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	items, next := page(&p.layers, after, limit, func(seq uint64, l *layerRec) fleet.Layer {
		start := time.UnixMilli(l.ms).UTC()
		return fleet.Layer{
			Seq: seq, JobID: p.jobID(l.job), Index: int(l.index), SizeMM2: float64(l.area) * areaUnitMM2,
			DurationSec: float64(l.durMS) / 1000, Start: start, End: start.Add(time.Duration(l.durMS) * time.Millisecond),
		}
	})
	return deviceapi.LayerPage{Instance: p.instance, Items: items, Next: next, First: p.layers.first()}
}

// Logs returns the lines of one device log with Seq > after, oldest first,
// at most limit. An unknown log reads as empty.
func (p *Printer) Logs(kind fleet.LogKind, after uint64, limit int) deviceapi.LogPage {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	i := logIndex(kind)
	if i < 0 {
		return deviceapi.LogPage{Instance: p.instance, Items: []fleet.LogLine{}, Next: after, First: 1}
	}
	r := &p.logs[i]
	items, next := page(r, after, limit, func(seq uint64, l *rec) fleet.LogLine {
		return fleet.LogLine{Seq: seq, Log: kind, Time: time.UnixMilli(l.ms).UTC(), Text: p.lgt[l.tmpl].Render(p, l)}
	})
	return deviceapi.LogPage{Instance: p.instance, Items: items, Next: next, First: r.first()}
}

// Jobs returns the job feed entries with Seq > after, oldest first, at most limit.
func (p *Printer) Jobs(after uint64, limit int) deviceapi.JobPage {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	items, next := page(&p.jobs, after, limit, p.renderJob)
	return deviceapi.JobPage{Instance: p.instance, Items: items, Next: next, First: p.jobs.first()}
}

// jobID returns the random ID of job number no, or "" for none.
func (p *Printer) jobID(no uint16) string {
	if no == 0 {
		return ""
	}
	s := p.jobIDs[int(no)%len(p.jobIDs)]
	if s.no != no {
		return "unknown"
	}
	return s.id
}

// newJobNo assigns the next job number to j.
func (p *Printer) newJobNo(j *job) uint16 {
	p.jobNo++
	if p.jobNo == 0 {
		p.jobNo = 1
	}
	slot := int(p.jobNo) % jobIDSlots
	for len(p.jobIDs) <= slot {
		p.jobIDs = append(p.jobIDs, jobIDSlot{})
	}
	p.jobIDs[slot] = jobIDSlot{no: p.jobNo, id: j.id, name: j.name, user: j.user, host: j.host}
	return p.jobNo
}

// jobPrivate returns the private names of job number no and the path of
// its job file as the printer received it, or empty strings for none.
func (p *Printer) jobPrivate(no uint16) (name, user, host, file string) {
	if no == 0 || len(p.jobIDs) == 0 {
		return "", "", "", ""
	}
	s := p.jobIDs[int(no)%len(p.jobIDs)]
	if s.no != no {
		return "", "", "", ""
	}
	return s.name, s.user, s.host, `\\` + s.host + `\jobs\` + s.user + `\` + s.name + ".3mf"
}

// firmwareAt returns the firmware installed at Unix millisecond ms.
func (p *Printer) firmwareAt(ms int64) string {
	i := sort.Search(len(p.fwHist), func(i int) bool { return p.fwHist[i].ms > ms })
	if i == 0 {
		return p.fwHist[0].version
	}
	return p.fwHist[i-1].version
}

// emit records an event now.
func (p *Printer) emit(tmpl, job, a, b uint16, v, w float64) {
	p.events.add(rec{ms: p.now.UnixMilli(), tmpl: tmpl, job: job, a: a, b: b, v: float32(v), w: float32(w)})
	if p.evt[tmpl].Severity >= fleet.SeverityError {
		p.ctr.systemErrors++
	}
}

// log writes a line to the log of the template.
func (p *Printer) log(tmpl, job, a, b uint16, v, w float64) {
	p.logs[p.lgIdx[tmpl]].add(rec{ms: p.now.UnixMilli(), tmpl: tmpl, job: job, a: a, b: b, v: float32(v), w: float32(w)})
}

// randomCode returns n random characters from A-Z and 0-9.
func randomCode(r *rand.Rand, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// randomUUID returns a version 4 UUID drawn from r.
func randomUUID(r *rand.Rand) string {
	var u [16]byte
	for i := range u {
		u[i] = byte(r.Uint32())
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
