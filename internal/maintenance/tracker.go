package maintenance

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
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
	Expired     bool      `json:"expired_agent,omitempty"`
	// Exposure splits its usage by the covariates in effect, and Now is
	// the covariate vector in effect now (filled by Installed).
	Exposure []Exposure `json:"-"`
	Now      Covariates `json:"-"`
	// Condition is the visible condition series (lamp intensity) when the
	// printer reports one, for plots and step detection.
	Condition []Point `json:"condition,omitempty"`
	detector  stepDetector
	exp       exposures
	x         Covariates // in effect since the last reading
	// agentNow: printheads fire non-original or expired agent now.
	nonOrigNow, expiredNow bool
	recAtWarn              int // recoveries until warned
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
	hours []hoursAt
	// The job printing (or last printed), for the material and print
	// mode covariates: -1 for the reference.
	jobStart       time.Time
	material, mode int
	rate           float64              // hours a day over the last RateWindow, at the last counters
	current        map[string]*Instance // by kind and position
	pending        map[Kind][]time.Time // failure events not yet matched to a replaced instance
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

// rateWindow is how far back the usage-rate covariate looks, and
// hoursKept how far back the print-time readings are kept.
const (
	rateWindow = 14 * 24 * time.Hour
	hoursKept  = 45 * 24 * time.Hour
)

// pendingFor is how long a failure event waits for its component's
// replacement to show in a snapshot: the longest repair and a poll.
const pendingFor = 12 * time.Hour

func (t *Tracker) printer(id fleet.PrinterID) *printerHist {
	p := t.printers[id]
	if p == nil {
		p = &printerHist{current: map[string]*Instance{}, pending: map[Kind][]time.Time{}, material: -1, mode: -1}
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
	case r.Job != nil:
		t.addJob(r.PrinterID, r.Job)
	}
}

// addJob notes the material and print mode of the newest started job.
func (t *Tracker) addJob(id fleet.PrinterID, j *fleet.Job) {
	if j.StartedAt.IsZero() {
		return
	}
	p := t.printer(id)
	if j.StartedAt.Before(p.jobStart) {
		return
	}
	p.jobStart, p.material, p.mode = j.StartedAt, materialCov(j.Material), modeCov(j.PrintMode)
}

// covariates returns the covariate vector in effect for in, which has run
// usage hours.
func (p *printerHist) covariates(in *Instance, usage float64) Covariates {
	var x Covariates
	if in.nonOrigNow {
		x[CovNonOriginal] = 1
	}
	if in.expiredNow {
		x[CovExpired] = 1
	}
	if p.material >= 0 {
		x[p.material] = 1
	}
	if p.mode >= 0 {
		x[p.mode] = 1
	}
	x[CovRate] = rateCov(p.rate)
	// Recoveries as a sign of how hard the part wears, counted until it
	// announces its failure: a failing part recovers ever more often,
	// which would tell of the end, not of the wear.
	if in.Warned.IsZero() {
		in.recAtWarn = in.Recoveries
	}
	x[CovRecoveries] = recoveryCov(in.recAtWarn, usage)
	return x
}

// account attributes an instance's usage since its last reading to the
// covariates in effect then, and takes the ones in effect from now.
func (p *printerHist) account(in *Instance, usage float64) {
	in.exp.add(usage, in.x)
	in.x = p.covariates(in, usage)
}

// conditionKept is how much of a visible condition series an instance
// keeps: the page plots 30 days.
const conditionKept = 35 * 24 * time.Hour

func (in *Instance) addCondition(at time.Time, v float64) {
	in.Condition = append(in.Condition, Point{at, v})
	if n := len(in.Condition); n > 64 && in.Condition[n/2].Time.Before(at.Add(-conditionKept)) {
		i := sort.Search(n, func(i int) bool { return !in.Condition[i].Time.Before(at.Add(-conditionKept)) })
		in.Condition = append([]Point(nil), in.Condition[i:]...)
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
	// Older readings are asked for no more: instances are opened, seen
	// and ended at recent times, and the rate looks back 14 days.
	if n := len(p.hours); n > 64 && p.hours[n/2].t.Before(c.Time.Add(-hoursKept)) {
		i := sort.Search(n, func(i int) bool { return !p.hours[i].t.Before(c.Time.Add(-hoursKept)) })
		p.hours = append([]hoursAt(nil), p.hours[max(i-1, 0):]...)
	}
	p.rate = t.RatePerDay(id, c.Time, rateWindow)
	defer func() {
		for _, s := range kinds {
			if in := p.current[key(s.kind, "")]; s.single && in != nil && !math.IsNaN(in.StartHours) {
				p.account(in, h-in.StartHours)
			}
		}
		if in := p.current[key(Filter, "")]; in != nil {
			in.addCondition(c.Time, c.FilterStatusPercent)
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
	in.x = p.covariates(in, 0)
	p.current[key(k, pos)] = in
	return in
}

// end closes an instance: failed or replaced while working.
func (t *Tracker) end(p *printerHist, in *Instance, at time.Time, failed bool) {
	in.Usage, in.Seen = p.usageAt(in, at), at
	in.exp.add(in.Usage, in.x)
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
			cur.exp.counted = usage
		}
		cur.exp.add(usage, cur.x)
		cur.Usage, cur.Seen = usage, at
		return cur
	}
	// Which agents the printheads fire now: fusing and detailing for the
	// fusing/detailing heads, the colours for the colour heads.
	var agentBad [2][2]bool // [colour][expired]
	for _, a := range c.Agents {
		colour := 1
		switch strings.ToLower(a.Agent) {
		case "fusing", "detailing":
			colour = 0
		}
		switch strings.ToLower(a.SupplyStatus) {
		case "non-original":
			agentBad[colour][0] = true
		case "expired":
			agentBad[colour][1] = true
		}
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
		in.Expired = in.Expired || h.ExpiredAgent
		colour := 0
		if strings.Contains(strings.ToLower(h.Type), "colo") {
			colour = 1
		}
		// The head's own flags say it has fired such agent; the supply
		// says whether it still does.
		in.nonOrigNow = h.NonOriginalAgent && agentBad[colour][0]
		in.expiredNow = h.ExpiredAgent && agentBad[colour][1]
		in.x = p.covariates(in, in.Usage)
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
		in.x = p.covariates(in, in.Usage)
		in.addCondition(c.Time, l.IntensityPercent)
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
		out[in.Kind] = append(out[in.Kind], Obs{Hours: in.Usage, Failed: in.Failed, Entry: in.Entry,
			Exposure: in.exp.list(in.Entry, in.Usage, in.x), End: in.x})
	}
	for _, id := range t.Printers() {
		p := t.printers[id]
		for _, k := range sortedKeys(p.current) {
			in := p.current[k]
			if math.IsNaN(in.StartHours) {
				continue
			}
			u := p.usageAt(in, at)
			out[in.Kind] = append(out[in.Kind], Obs{Hours: u, Entry: in.Entry, Exposure: in.exp.list(in.Entry, u, in.x), End: in.x})
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
		c.exp = exposures{}
		if math.IsNaN(in.StartHours) {
			c.Usage = math.NaN()
		} else {
			c.Usage = p.usageAt(in, at)
			c.Exposure, c.Now = in.exp.list(in.Entry, c.Usage, in.x), in.x
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

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// clone returns a copy of the tracker's state for printer id that can
// take more records without changing t: its installed components and
// their readings, not the lives that ended.
func (t *Tracker) clone(id fleet.PrinterID) *Tracker {
	c := NewTracker()
	maps.Copy(c.Excluded, t.Excluded)
	p := t.printers[id]
	if p == nil {
		return c
	}
	q := *p
	q.hours = slices.Clone(p.hours)
	q.current = make(map[string]*Instance, len(p.current))
	for k, in := range p.current {
		x := *in
		x.Condition = slices.Clone(in.Condition)
		x.exp = in.exp.clone()
		q.current[k] = &x
	}
	q.pending = make(map[Kind][]time.Time, len(p.pending))
	for k, ts := range p.pending {
		q.pending[k] = slices.Clone(ts)
	}
	c.printers[id] = &q
	return c
}
