package maintenance

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Instance is one installed or replaced component as the uplinked history
// shows it.
type Instance struct {
	Printer  fleet.PrinterID `json:"printer_id"`
	Kind     Kind            `json:"kind"`
	Position string          `json:"position,omitempty"` // PH1…, fusing-1…; empty for kinds a printer has one of
	Serial   string          `json:"serial,omitempty"`
	// Installed is when it was installed, or first seen when the history
	// starts later; StartHours is the printer's print hours then.
	Installed  time.Time `json:"installed"`
	StartHours float64   `json:"-"`
	// Entry is its usage hours when the history first shows it: more than
	// zero for one installed before the history starts.
	Entry float64 `json:"entry_hours,omitempty"`
	// Usage is its usage hours at Seen, the last time they were known.
	Usage float64   `json:"usage_hours"`
	Seen  time.Time `json:"seen"`
	// Ended is when it failed or was replaced; zero while installed.
	Ended  time.Time `json:"ended,omitzero"`
	Failed bool      `json:"failed"`
	// Warned is when it first announced its failure (its warning event, a
	// degraded status, or a step down in its visible condition).
	Warned      time.Time `json:"warned,omitzero"`
	Recoveries  int       `json:"recoveries"` // minor symptoms since install
	NonOriginal bool      `json:"non_original_agent,omitempty"`
	// Condition is the visible condition series (lamp intensity) when the
	// printer reports one, for plots and step detection.
	Condition []Point `json:"condition,omitempty"`
	detector  stepDetector
}

// Point is one reading of a series.
type Point struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// hoursAt is one reading of a printer's print-time counter.
type hoursAt struct {
	t time.Time
	h float64
}

type printerHist struct {
	hours   []hoursAt
	current map[string]*Instance // by kind and position
	pending map[Kind][]time.Time // failure events not yet matched to a replaced instance
}

// Tracker builds component instances from uplinked records. Feed it each
// printer's records in time order with Add. It is not safe for concurrent
// use.
type Tracker struct {
	printers map[fleet.PrinterID]*printerHist
	ended    []*Instance
	// Excluded counts the records and instances left out, by reason.
	Excluded map[string]int
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{printers: map[fleet.PrinterID]*printerHist{}, Excluded: map[string]int{}}
}

// The reasons records and instances are excluded.
const (
	ExclPrintTimeBack   = "print-time counter went back"
	ExclUsageBack       = "component usage hours went back"
	ExclBadUsage        = "usage hours negative or not a number"
	ExclAmbiguous       = "failure matches more than one replaced component"
	ExclUnmatchedFail   = "failure event without a replaced component"
	ExclHistoryTooShort = "failure of a component installed before the history starts"
)

// pendingFor is how long a failure event waits for its component's
// replacement to show in a snapshot: the longest repair and a poll.
const pendingFor = 12 * time.Hour

func (t *Tracker) printer(id fleet.PrinterID) *printerHist {
	p := t.printers[id]
	if p == nil {
		p = &printerHist{current: map[string]*Instance{}, pending: map[Kind][]time.Time{}}
		t.printers[id] = p
	}
	return p
}

// Add takes one record; kinds other than counters, consumables and events
// are ignored.
func (t *Tracker) Add(r fleet.Record) {
	switch {
	case r.Counters != nil:
		t.addCounters(r.PrinterID, r.Counters)
	case r.Consumables != nil:
		t.addConsumables(r.PrinterID, r.Consumables)
	case r.Event != nil:
		t.addEvent(r.PrinterID, r.Event)
	}
}

func (t *Tracker) addCounters(id fleet.PrinterID, c *fleet.Counters) {
	p := t.printer(id)
	h := c.PrintTimeSec / 3600
	if math.IsNaN(h) || h < 0 {
		t.Excluded[ExclBadUsage]++
		return
	}
	if n := len(p.hours); n > 0 {
		last := p.hours[n-1]
		if !c.Time.After(last.t) {
			return // a resend or out of order: nothing new
		}
		if h < last.h {
			t.Excluded[ExclPrintTimeBack]++
			return
		}
	}
	p.hours = append(p.hours, hoursAt{c.Time, h})
	defer func() {
		if in := p.current[key(Filter, "")]; in != nil {
			in.Condition = append(in.Condition, Point{c.Time, c.FilterStatusPercent})
			if in.detector.add(c.FilterStatusPercent) && in.Warned.IsZero() {
				in.Warned = c.Time
			}
		}
	}()
	if len(p.hours) == 1 {
		// The components a printer has one of: a new printer's are new,
		// an older one's usage is unknown until they are replaced.
		for _, s := range kinds {
			if s.single && p.current[key(s.kind, "")] == nil {
				in := t.open(id, p, s.kind, "", "", c.Time)
				if h > 0 {
					in.StartHours = math.NaN()
				}
			}
		}
	}
}

// printHours returns the printer's print hours at time at, interpolated
// between counter readings (the last reading after the end).
func (p *printerHist) printHours(at time.Time) float64 {
	n := len(p.hours)
	if n == 0 {
		return 0
	}
	i := sort.Search(n, func(i int) bool { return p.hours[i].t.After(at) })
	switch {
	case i == 0:
		return p.hours[0].h
	case i == n:
		return p.hours[n-1].h
	}
	a, b := p.hours[i-1], p.hours[i]
	f := float64(at.Sub(a.t)) / float64(b.t.Sub(a.t))
	return a.h + f*(b.h-a.h)
}

// RatePerDay returns the printer's print hours per day over the window
// before at; zero without two readings.
func (t *Tracker) RatePerDay(id fleet.PrinterID, at time.Time, window time.Duration) float64 {
	p := t.printers[id]
	if p == nil || len(p.hours) < 2 {
		return 0
	}
	from := at.Add(-window)
	if first := p.hours[0].t; from.Before(first) {
		from = first
	}
	days := at.Sub(from).Hours() / 24
	if days <= 0 {
		return 0
	}
	return (p.printHours(at) - p.printHours(from)) / days
}

// usageAt is an instance's usage hours at time at.
func (p *printerHist) usageAt(in *Instance, at time.Time) float64 {
	if in.Seen.IsZero() {
		return max(p.printHours(at)-in.StartHours, 0)
	}
	return in.Usage + max(p.printHours(at)-p.printHours(in.Seen), 0)
}

func key(k Kind, pos string) string { return string(k) + "/" + pos }

// open installs a new instance at a position.
func (t *Tracker) open(id fleet.PrinterID, p *printerHist, k Kind, pos, serial string, at time.Time) *Instance {
	in := &Instance{Printer: id, Kind: k, Position: pos, Serial: serial, Installed: at, StartHours: p.printHours(at)}
	p.current[key(k, pos)] = in
	return in
}

// end closes an instance: failed or replaced while working.
func (t *Tracker) end(p *printerHist, in *Instance, at time.Time, failed bool) {
	in.Usage, in.Seen = p.usageAt(in, at), at
	in.Ended, in.Failed = at, failed
	delete(p.current, key(in.Kind, in.Position))
	t.ended = append(t.ended, in)
}

func (t *Tracker) addEvent(id fleet.PrinterID, e *fleet.Event) {
	s, sig := eventOf(e.Code)
	if s == nil {
		return
	}
	p := t.printer(id)
	if !s.single {
		// Which printhead or lamp: the next consumables snapshot tells.
		if sig == sigFail {
			p.pending[s.kind] = append(p.pending[s.kind], e.Time)
		}
		if sig == sigMinor && s.kind == Lamp {
			for _, in := range p.current {
				if in.Kind == Lamp {
					in.Recoveries++ // a lamp retry is not told apart by position: count it on every lamp
				}
			}
		}
		return
	}
	in := p.current[key(s.kind, "")]
	if in == nil && sig != sigReplaced {
		// First word of this component: it was installed before the
		// history starts, at an unknown usage.
		in = t.open(id, p, s.kind, "", "", e.Time)
		in.StartHours = math.NaN()
	}
	switch sig {
	case sigMinor:
		in.Recoveries++
	case sigWarn:
		if in.Warned.IsZero() && !s.lowIsWarn {
			in.Warned = e.Time
		}
	case sigFail:
		if math.IsNaN(in.StartHours) {
			t.Excluded[ExclHistoryTooShort]++
			delete(p.current, key(s.kind, ""))
			return
		}
		t.end(p, in, e.Time, true)
	case sigReplaced:
		if in != nil {
			if math.IsNaN(in.StartHours) {
				delete(p.current, key(s.kind, ""))
			} else {
				t.end(p, in, e.Time, false)
			}
		}
		t.open(id, p, s.kind, "", "", e.Time)
	}
}

func (t *Tracker) addConsumables(id fleet.PrinterID, c *fleet.Consumables) {
	p := t.printer(id)
	type change struct {
		in       *Instance
		failedSt bool
	}
	var changed []change
	seen := func(k Kind, pos, serial string, usage float64, status string, at time.Time) *Instance {
		if math.IsNaN(usage) || usage < 0 {
			t.Excluded[ExclBadUsage]++
			return nil
		}
		cur := p.current[key(k, pos)]
		if cur != nil {
			newOne := serial != "" && serial != cur.Serial || serial == "" && usage < cur.Usage-0.5
			if !newOne && usage < cur.Usage {
				t.Excluded[ExclUsageBack]++
				return nil
			}
			if newOne {
				changed = append(changed, change{cur, false})
				cur = nil
			}
		}
		if cur == nil {
			cur = t.open(id, p, k, pos, serial, at)
			cur.StartHours = p.printHours(at) - usage
			cur.Entry = usage
		}
		cur.Usage, cur.Seen = usage, at
		return cur
	}
	var failedNow []*Instance
	for _, h := range c.Printheads {
		pos := fmt.Sprintf("PH%d", h.Slot)
		in := seen(Printhead, pos, h.SerialNumber, h.UsageHours, h.Status, c.Time)
		if in == nil {
			continue
		}
		if !h.InstallDate.IsZero() && h.InstallDate.Before(in.Installed) {
			in.Installed = h.InstallDate
		}
		in.Recoveries, in.NonOriginal = h.RecoveryLevel, in.NonOriginal || h.NonOriginalAgent
		if h.Status == "degraded" && in.Warned.IsZero() {
			in.Warned = c.Time
		}
		if h.Status == "failed" {
			failedNow = append(failedNow, in)
		}
	}
	for _, l := range c.Lamps {
		in := seen(Lamp, l.Position, "", l.Hours, l.Status, c.Time)
		if in == nil {
			continue
		}
		in.Condition = append(in.Condition, Point{c.Time, l.IntensityPercent})
		if in.detector.add(l.IntensityPercent) && in.Warned.IsZero() {
			in.Warned = c.Time
		}
		if l.Status == "failed" {
			failedNow = append(failedNow, in)
		}
	}
	// A component shown failed takes a pending failure of its kind now;
	// it is replaced later.
	for _, in := range failedNow {
		if ts := p.pending[in.Kind]; len(ts) > 0 && !in.Failed {
			in.Failed, in.Ended = true, ts[0]
			p.pending[in.Kind] = ts[1:]
		}
	}
	// Replaced components: failed if marked so or if they are the only
	// replacement of their kind a pending failure can mean.
	byKind := map[Kind][]*Instance{}
	for _, ch := range changed {
		byKind[ch.in.Kind] = append(byKind[ch.in.Kind], ch.in)
	}
	for k, ins := range byKind {
		var unknown []*Instance
		for _, in := range ins {
			if in.Failed {
				at := in.Ended
				in.Failed = false
				t.end(p, in, at, true)
				continue
			}
			unknown = append(unknown, in)
		}
		ts := p.pending[k]
		switch {
		case len(ts) == 0:
			for _, in := range unknown {
				t.end(p, in, c.Time, false)
			}
		case len(unknown) == 1:
			t.end(p, unknown[0], ts[0], true)
			p.pending[k] = ts[1:]
		default:
			for _, in := range unknown {
				t.Excluded[ExclAmbiguous]++
				delete(p.current, key(in.Kind, in.Position))
			}
			p.pending[k] = nil
		}
	}
	for k, ts := range p.pending {
		for len(ts) > 0 && c.Time.Sub(ts[0]) > pendingFor {
			t.Excluded[ExclUnmatchedFail]++
			ts = ts[1:]
		}
		p.pending[k] = ts
	}
}

// Observations returns each kind's lives so far at time at: the ended
// instances and the installed ones (right-censored at their usage).
func (t *Tracker) Observations(at time.Time) map[Kind][]Obs {
	out := map[Kind][]Obs{}
	for _, in := range t.ended {
		out[in.Kind] = append(out[in.Kind], Obs{Hours: in.Usage, Failed: in.Failed, Entry: in.Entry})
	}
	for _, p := range t.printers {
		for _, in := range p.current {
			if math.IsNaN(in.StartHours) {
				continue
			}
			out[in.Kind] = append(out[in.Kind], Obs{Hours: p.usageAt(in, at), Entry: in.Entry})
		}
	}
	return out
}

// Installed returns the printer's installed instances, sorted by kind and
// position, with their usage hours at time at.
func (t *Tracker) Installed(id fleet.PrinterID, at time.Time) []Instance {
	p := t.printers[id]
	if p == nil {
		return nil
	}
	var out []Instance
	for _, in := range p.current {
		c := *in
		if math.IsNaN(in.StartHours) {
			c.Usage = math.NaN()
		} else {
			c.Usage = p.usageAt(in, at)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Position < out[j].Position
	})
	return out
}

// Printers returns the printers the tracker has seen.
func (t *Tracker) Printers() []fleet.PrinterID {
	out := make([]fleet.PrinterID, 0, len(t.printers))
	for id := range t.printers {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
