package mtconnect

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// This file holds the device model: one Device per printer, with the
// components of a powder-bed printer and their data items (the
// standard's Device Information Model), built from what the Command
// Center knows of the printer, together with each data item's value now.
// docs/mtconnect.md lists the model and its extensions.

// category is a data item's category.
type category string

// The data item categories.
const (
	catSample    category = "SAMPLE"
	catEvent     category = "EVENT"
	catCondition category = "CONDITION"
)

// extPrefix is the namespace prefix of the data item types this agent
// adds to the standard's, declared with extNamespace; the element of an
// extension observation is declared in the schema served under
// extSchemaPath.
const (
	extPrefix    = "ff"
	extNamespace = "urn:fusionfleet:mtconnect:2.4"
)

// dataItem is one data item of the device model. It does not change once
// made: observations in the buffer point to it.
type dataItem struct {
	id, name            string
	cat                 category
	typ, subType, units string
	// The device and component it belongs to, for the streams.
	deviceUUID, deviceName     string
	compID, compElem, compName string
}

// element is the name of the observation element of a sample or event:
// the type in Pascal case (MATERIAL_LAYER → MaterialLayer,
// ff:JOB_PROGRESS → ff:JobProgress).
func (d *dataItem) element() string {
	prefix, typ, ok := strings.Cut(d.typ, ":")
	if !ok {
		prefix, typ = "", d.typ
	} else {
		prefix += ":"
	}
	var b strings.Builder
	b.WriteString(prefix)
	for w := range strings.SplitSeq(strings.ToLower(typ), "_") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// component is a component of the device model: a Device (or the Agent)
// or one of its parts.
type component struct {
	elem, id, name string
	uuid           string // Device and Agent only
	manufacturer   string // Description, if any of these is set
	model, serial  string
	items          []*dataItem
	children       []*component
}

// walk calls fn for c and every component below it, parents first.
func (c *component) walk(fn func(*component)) {
	fn(c)
	for _, k := range c.children {
		k.walk(fn)
	}
}

// reading is a data item's value as the model sees it now.
type reading struct {
	item  *dataItem
	value string
	level level
	code  string
}

// builder builds one device and its readings.
type builder struct {
	dev      *component
	readings []reading
	// down: the printer is unreachable, every value is unavailable.
	down bool
}

func newBuilder(elem, id, name, uuid string) *builder {
	return &builder{dev: &component{elem: elem, id: id, name: name, uuid: uuid}}
}

// comp adds a component below parent; its id is the device's joined to
// suffix.
func (b *builder) comp(parent *component, elem, suffix, name string) *component {
	c := &component{elem: elem, id: b.dev.id + "_" + suffix, name: name}
	parent.children = append(parent.children, c)
	return c
}

// declare adds a data item to c without a value: its observations come
// from elsewhere (events, assets).
func (b *builder) declare(c *component, cat category, typ, subType, units, suffix string) *dataItem {
	d := &dataItem{id: c.id + "_" + suffix, cat: cat, typ: typ, subType: subType, units: units,
		deviceUUID: b.dev.uuid, deviceName: b.dev.name, compID: c.id, compElem: c.elem, compName: c.name}
	if c == b.dev {
		d.id = b.dev.id + "_" + suffix
	}
	c.items = append(c.items, d)
	return d
}

// value adds a sample or event data item with its value ("" →
// unavailable).
func (b *builder) value(c *component, cat category, typ, subType, units, suffix, v string) {
	d := b.declare(c, cat, typ, subType, units, suffix)
	if v == "" || b.down {
		v = unavailable
	}
	b.readings = append(b.readings, reading{item: d, value: v})
}

// number adds a sample or event with a numeric value; ok false →
// unavailable.
func (b *builder) number(c *component, cat category, typ, subType, units, suffix string, v float64, ok bool) {
	s := ""
	if ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
		s = formatNumber(v)
	}
	b.value(c, cat, typ, subType, units, suffix, s)
}

// condition adds a SYSTEM condition with its level, native code and text.
func (b *builder) condition(c *component, suffix string, l level, code, text string) {
	d := b.declare(c, catCondition, "SYSTEM", "", "", suffix)
	if b.down || l == "" {
		l, code, text = levelUnavailable, "", ""
	}
	if l == levelNormal {
		code, text = "", ""
	}
	b.readings = append(b.readings, reading{item: d, level: l, code: code, value: text})
}

// formatNumber writes v with at most three decimals, as xs:float reads it.
func formatNumber(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// deviceID is the XML id of the device of the printer with local ID id.
func deviceID(id int64) string { return "p" + strconv.FormatInt(id, 10) }

// idPart makes s fit in an XML id: letters, digits, '-' and '_' stay,
// everything else becomes '_'.
func idPart(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

// available reports whether the Command Center reaches the printer.
func available(p commandcenter.Printer) bool {
	return p.Status != nil && (p.State == commandcenter.CollectionOK || p.State == commandcenter.CollectionBadInput)
}

// execution maps a printer's state to the standard's EXECUTION.
func execution(s fleet.State) string {
	switch s {
	case fleet.StateIdle:
		return "READY"
	case fleet.StatePrinting:
		return "ACTIVE"
	case fleet.StateCooling:
		return "WAIT"
	case fleet.StateError:
		return "STOPPED"
	}
	return ""
}

// statusLevel maps a part's status word to a condition level: the words
// of ok are Normal, of warn Warning, anything else Fault.
func statusLevel(status string, ok, warn []string) level {
	for _, w := range ok {
		if status == w {
			return levelNormal
		}
	}
	for _, w := range warn {
		if status == w {
			return levelWarning
		}
	}
	return levelFault
}

// timestamp formats t as the standard's timestamps: UTC, microseconds.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// printerDevice builds the device of printer p (reached at least once)
// from its latest status and wear, with the readings of its values now.
func printerDevice(p commandcenter.Printer, snap commandcenter.Snapshot) *builder {
	id := p.Identity
	b := newBuilder("Device", deviceID(p.ID), id.Name, string(id.PrinterID))
	if b.dev.name == "" {
		b.dev.name = "printer-" + strconv.FormatInt(p.ID, 10)
	}
	b.dev.manufacturer, b.dev.model, b.dev.serial = "FusionFleet", id.Model, id.SerialNumber
	dev := b.dev
	up := available(p)
	avail := "UNAVAILABLE"
	if up {
		avail = "AVAILABLE"
	}
	b.value(dev, catEvent, "AVAILABILITY", "", "", "avail", avail)
	b.down = !up
	b.declare(dev, catEvent, "ASSET_CHANGED", "", "", "asset_chg")
	b.declare(dev, catEvent, "ASSET_REMOVED", "", "", "asset_rem")
	b.declare(dev, catEvent, "MESSAGE", "", "", "msg")
	b.value(dev, catEvent, "FIRMWARE", "", "", "firmware", id.Firmware)
	st := statusOf(p)
	sys, code, text := levelNormal, "", ""
	if st.State == fleet.StateError {
		sys, code, text = levelFault, "PRINTER_ERROR", st.Activity
	}
	b.condition(dev, "system", sys, code, text)

	// The controller's path: the job being printed.
	ctrls := b.comp(dev, "Controllers", "controllers", "")
	ctrl := b.comp(ctrls, "Controller", "controller", "controller")
	path := b.comp(ctrl, "Path", "path", "path")
	b.value(path, catEvent, "EXECUTION", "", "", "exec", execution(st.State))
	b.value(path, catEvent, extPrefix+":PRINTER_STATE", "", "", "state", stateWord(st.State))
	b.value(path, catEvent, extPrefix+":ACTIVITY", "", "", "activity", st.Activity)
	job := st.Job
	has := job != nil
	var jobID, jobName string
	var done, total, progress float64
	if has {
		jobID, jobName = job.ID, job.Private.Name
		done, total, progress = float64(job.LayersDone), float64(job.LayersTotal), job.Progress*100
	}
	b.value(path, catEvent, "PROGRAM", "", "", "program", jobName)
	b.value(path, catEvent, "PROCESS_OCCURRENCE_ID", "", "", "job", jobID)
	b.number(path, catEvent, "MATERIAL_LAYER", "ACTUAL", "", "layer", done, has)
	b.number(path, catEvent, "MATERIAL_LAYER", "TARGET", "", "layers", total, has)
	b.number(path, catSample, extPrefix+":JOB_PROGRESS", "", "PERCENT", "progress", progress, has)
	etc := ""
	if st.ETCSeconds > 0 && !st.Time.IsZero() {
		etc = timestamp(st.Time.Add(time.Duration(st.ETCSeconds) * time.Second).Truncate(time.Second))
	}
	b.value(path, catEvent, "PROCESS_TIME", "TARGET_COMPLETION", "", "etc", etc)
	b.number(path, catEvent, extPrefix+":PENDING_JOBS", "", "", "pending", float64(st.PendingJobs), p.Status != nil)

	var cons *fleet.Consumables
	if snap.Consumables != nil {
		cons = &snap.Consumables.Consumables
	}
	// The build unit: a container of powder.
	bu := b.comp(dev, "Vat", "bu", "build unit")
	var unit *fleet.BuildUnit
	if cons != nil {
		unit = cons.BuildUnits.Installed
	}
	in := unit != nil
	if !in {
		unit = &fleet.BuildUnit{}
	}
	b.value(bu, catEvent, "SERIAL_NUMBER", "", "", "serial", unit.SerialNumber)
	b.value(bu, catEvent, "MATERIAL", "", "", "material", unit.Material)
	b.number(bu, catSample, "MASS", "", "KILOGRAM", "mass", unit.MaterialKG, in)
	b.number(bu, catSample, extPrefix+":RECYCLED_MATERIAL", "", "PERCENT", "recycled", unit.RecycledPercent, in)
	b.number(bu, catSample, "EQUIPMENT_TIMER", "OPERATING", "SECOND", "hours", unit.UsageHours*3600, in)
	b.value(bu, catEvent, extPrefix+":BUILD_UNIT_STATUS", "", "", "status", unit.Status)

	// The cooling system, from the counters.
	systems := b.comp(dev, "Systems", "systems", "")
	cool := b.comp(systems, "Cooling", "cooling", "cooling")
	var hours float64
	if snap.Counters != nil {
		hours = snap.Counters.Counters.CoolingSystemHours
	}
	b.number(cool, catSample, "EQUIPMENT_TIMER", "OPERATING", "SECOND", "hours", hours*3600, snap.Counters != nil)
	if cons == nil {
		return b
	}

	// The cleaning roll of the printheads.
	roll := b.comp(dev, "Reel", "roll", "cleaning roll")
	roll.model = cons.CleaningRoll.PartNumber
	b.number(roll, catSample, "FILL_LEVEL", "", "PERCENT", "level", 100-cons.CleaningRoll.UsagePercent, true)
	b.condition(roll, "system", statusLevel(cons.CleaningRoll.Status, []string{"ok"}, []string{"low"}),
		strings.ToUpper(cons.CleaningRoll.Status), "cleaning roll "+cons.CleaningRoll.Status)

	// The printheads, each a deposition unit.
	if len(cons.Printheads) > 0 {
		aux := b.comp(dev, "Auxiliaries", "aux", "")
		for _, h := range cons.Printheads {
			slot := strconv.Itoa(h.Slot)
			c := b.comp(aux, "Deposition", "ph"+slot, "printhead "+slot)
			c.model, c.serial = h.Type, h.SerialNumber
			b.number(c, catSample, "EQUIPMENT_TIMER", "OPERATING", "SECOND", "hours", h.UsageHours*3600, true)
			b.number(c, catSample, "VOLUME_FLUID", "CONSUMED", "MILLILITER", "agent", h.AgentUsedCC, true)
			code := h.LastErrorCode
			if code == "" {
				code = strings.ToUpper(h.Status)
			}
			b.condition(c, "system", statusLevel(h.Status, []string{"ok"}, []string{"degraded"}), code, "printhead "+h.Status)
		}
	}
	// The agents (the fluids the printheads jet), each a material.
	if len(cons.Agents) > 0 {
		res := b.comp(dev, "Resources", "res", "")
		mats := b.comp(res, "Materials", "mats", "")
		for _, a := range cons.Agents {
			c := b.comp(mats, "Material", "agent_"+idPart(a.Agent), a.Agent+" agent")
			b.number(c, catSample, "FILL_LEVEL", "", "PERCENT", "level", a.SupplyLevelPercent, true)
			b.number(c, catSample, "VOLUME_FLUID", "CONSUMED", "MILLILITER", "used", a.UsedCC, true)
			b.condition(c, "system", statusLevel(a.SupplyStatus, []string{"ok"}, []string{"low", "non-original", "expired"}),
				strings.ToUpper(idPart(a.SupplyStatus)), a.Agent+" agent supply "+a.SupplyStatus)
		}
	}
	// The fusing and warming lamps, each an exposure unit.
	for _, l := range cons.Lamps {
		c := b.comp(dev, "ExposureUnit", "lamp_"+idPart(l.Position), l.Position+" lamp")
		b.number(c, catSample, "EQUIPMENT_TIMER", "OPERATING", "SECOND", "hours", l.Hours*3600, true)
		b.number(c, catSample, extPrefix+":LAMP_INTENSITY", "", "PERCENT", "intensity", l.IntensityPercent, true)
		b.condition(c, "system", statusLevel(l.Status, []string{"ok"}, []string{"weak"}), strings.ToUpper(l.Status), l.Position+" lamp "+l.Status)
	}
	return b
}

// statusOf returns p's status, the zero status before the first poll.
func statusOf(p commandcenter.Printer) deviceapi.Status {
	if p.Status != nil {
		return *p.Status
	}
	return deviceapi.Status{}
}

// stateWord is the printer's own word for its state; "" when unknown.
func stateWord(s fleet.State) string {
	if s == fleet.StateUnknown {
		return ""
	}
	return s.String()
}
