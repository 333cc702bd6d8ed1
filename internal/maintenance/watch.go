package maintenance

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Signal is what a Watch concludes about one kind of component of a
// printer from a record: whether one of them degrades, with the evidence.
type Signal struct {
	Printer fleet.PrinterID
	Kind    Kind
	At      time.Time
	Holds   bool
	// Evidence names each degrading component and what it showed, fixed
	// when the step was detected (so the alert it feeds is not revised by
	// every reading).
	Evidence string
}

// Watch runs the step detectors on the live streams of visible condition
// (lamp intensity from consumables, filter life left from counters), per
// printer and component. It is safe for concurrent use. Its state is in
// memory: a node that restarts, or sees only its share of a stream,
// starts its series anew.
type Watch struct {
	mu       sync.Mutex
	printers map[fleet.PrinterID]map[string]*series // by kind and position
}

// series is one installed component's condition readings.
type series struct {
	det      stepDetector
	last     time.Time
	hours    float64 // lamps: burning hours at the last reading
	recent   []Point // the last few readings, for the evidence
	evidence string  // set once the step is detected
	pace     float64 // the usual drop before the last reading
}

// recentReadings is how many readings the evidence quotes.
const recentReadings = 4

// NewWatch returns a watch with no history.
func NewWatch() *Watch { return &Watch{printers: map[fleet.PrinterID]map[string]*series{}} }

// Observe feeds one record to the detectors and returns a signal per kind
// it concerns (none for other records). A record not newer than the last
// one of its series (a redelivery or a replay) changes nothing.
func (w *Watch) Observe(rec fleet.Record) []Signal {
	w.mu.Lock()
	defer w.mu.Unlock()
	ps := w.printers[rec.PrinterID]
	if ps == nil {
		ps = map[string]*series{}
		w.printers[rec.PrinterID] = ps
	}
	switch {
	case rec.Consumables != nil:
		c := rec.Consumables
		for _, l := range c.Lamps {
			k := key(Lamp, l.Position)
			s := ps[k]
			if s == nil || l.Hours < s.hours-0.5 { // none yet, or a new lamp
				s = &series{}
				ps[k] = s
			}
			added, alarm := s.add(c.Time, l.IntensityPercent)
			if added {
				s.hours = l.Hours
			}
			if alarm && s.evidence == "" {
				s.evidence = fmt.Sprintf("%s: intensity fell %s at %.0f h", l.Position, s.describe(), l.Hours)
			}
		}
		return []Signal{w.signal(rec, Lamp, ps)}
	case rec.Counters != nil:
		c := rec.Counters
		k := key(Filter, "")
		s := ps[k]
		if s == nil || len(s.recent) > 0 && c.FilterStatusPercent > s.recent[len(s.recent)-1].Value+5 { // a new filter
			s = &series{}
			ps[k] = s
		}
		if _, alarm := s.add(c.Time, c.FilterStatusPercent); alarm && s.evidence == "" {
			s.evidence = fmt.Sprintf("life left fell %s at %.0f print hours", s.describe(), c.PrintTimeSec/3600)
		}
		return []Signal{w.signal(rec, Filter, ps)}
	case rec.Event != nil:
		// The cooling system and the carriage announce their failure by
		// a warning event; a service ends it.
		sp, sig := eventOf(rec.Event.Code)
		if sp == nil || !sp.single || sp.lowIsWarn || sig != sigWarn && sig != sigReplaced {
			return nil
		}
		k := key(sp.kind, "")
		s := ps[k]
		if s == nil {
			s = &series{}
			ps[k] = s
		}
		if !rec.Event.Time.After(s.last) {
			return []Signal{w.signal(rec, sp.kind, ps)}
		}
		s.last = rec.Event.Time
		switch {
		case sig == sigReplaced:
			s.evidence = ""
		case s.evidence == "":
			s.evidence = fmt.Sprintf("%s (%s) at %s", rec.Event.Code, rec.Event.Description, rec.Event.Time.UTC().Format(time.DateTime))
		}
		return []Signal{w.signal(rec, sp.kind, ps)}
	}
	return nil
}

// add takes a reading newer than the last; it reports whether it did and
// whether the detector is alarmed.
func (s *series) add(at time.Time, v float64) (added, alarm bool) {
	if !at.After(s.last) {
		return false, false
	}
	s.last = at
	s.recent = append(s.recent, Point{at, v})
	if len(s.recent) > recentReadings {
		s.recent = s.recent[1:]
	}
	s.pace = s.det.pace
	return true, s.det.add(v)
}

// describe quotes the readings behind an alarm.
func (s *series) describe() string {
	first, last := s.recent[0], s.recent[len(s.recent)-1]
	return fmt.Sprintf("%.1f points in %s (%.1f %% → %.1f %%), far faster than its usual %.2f a reading",
		first.Value-last.Value, last.Time.Sub(first.Time).Round(time.Minute), first.Value, last.Value, s.pace)
}

// signal sums up a printer's components of kind k.
func (w *Watch) signal(rec fleet.Record, k Kind, ps map[string]*series) Signal {
	sig := Signal{Printer: rec.PrinterID, Kind: k, At: rec.Time}
	var keys []string
	for key, s := range ps {
		if s.evidence != "" && len(key) > len(k) && key[:len(k)+1] == string(k)+"/" {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	for _, key := range keys {
		if sig.Evidence != "" {
			sig.Evidence += "; "
		}
		sig.Evidence += ps[key].evidence
		sig.Holds = true
	}
	return sig
}
