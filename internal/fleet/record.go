package fleet

import (
	"errors"
	"fmt"
	"time"
)

// Kind says what a Record carries.
type Kind string

// The record kinds that cross the uplink.
const (
	KindIdentity    Kind = "identity"
	KindStatus      Kind = "status"
	KindEvent       Kind = "event"
	KindJob         Kind = "job"
	KindPart        Kind = "part"
	KindLayer       Kind = "layer"
	KindCounters    Kind = "counters"
	KindConsumables Kind = "consumables"
	KindLog         Kind = "log"
	// KindGap records that a gateway could not read part of a printer's
	// feed (the printer restarted or its buffer wrapped): loss made visible.
	KindGap Kind = "gap"
)

// Record is one unit of data that a gateway sends to the cloud. Seq is the
// gateway's own sequence number: it increases by one per record, so the pair
// (gateway, Seq) identifies a record for ever and makes resends idempotent.
// Exactly one of the payload fields is set, matching Kind.
type Record struct {
	Seq       uint64    `json:"seq"`
	Kind      Kind      `json:"kind"`
	PrinterID PrinterID `json:"printer_id"`
	Time      time.Time `json:"time"` // when the gateway observed it

	Identity    *Identity    `json:"identity,omitempty"`
	Status      *Status      `json:"status,omitempty"`
	Event       *Event       `json:"event,omitempty"`
	Gap         *Gap         `json:"gap,omitempty"`
	Job         *Job         `json:"job,omitempty"`
	Part        *Part        `json:"part,omitempty"`
	Layer       *Layer       `json:"layer,omitempty"`
	Counters    *Counters    `json:"counters,omitempty"`
	Consumables *Consumables `json:"consumables,omitempty"`
	Log         *LogLine     `json:"log,omitempty"`
}

// Gap describes feed data a gateway could not read.
type Gap struct {
	Feed   string `json:"feed"` // "events", "jobs", "layers" or "logs/<kind>"
	Reason string `json:"reason"`
	// FromSeq and ToSeq bound the missing printer sequence numbers, when known.
	FromSeq uint64 `json:"from_seq,omitempty"`
	ToSeq   uint64 `json:"to_seq,omitempty"`
}

// Validate reports whether the record is well-formed and self-consistent.
func (r Record) Validate() error {
	if r.Seq == 0 {
		return errors.New("record: seq must be positive")
	}
	if err := r.PrinterID.Validate(); err != nil {
		return fmt.Errorf("record %d: %w", r.Seq, err)
	}
	if r.Time.IsZero() {
		return fmt.Errorf("record %d: zero time", r.Seq)
	}
	if err := r.checkTimes(); err != nil {
		return fmt.Errorf("record %d: %w", r.Seq, err)
	}
	set := 0
	for _, p := range []bool{r.Identity != nil, r.Status != nil, r.Event != nil, r.Gap != nil,
		r.Job != nil, r.Part != nil, r.Layer != nil, r.Counters != nil, r.Consumables != nil, r.Log != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("record %d: want exactly one payload, have %d", r.Seq, set)
	}
	var err error
	switch r.Kind {
	case KindIdentity:
		if r.Identity == nil {
			return fmt.Errorf("record %d: kind identity without identity", r.Seq)
		}
		err = r.Identity.Validate()
		if err == nil && r.Identity.PrinterID != r.PrinterID {
			err = errors.New("identity printer id differs from record's")
		}
	case KindStatus:
		if r.Status == nil {
			return fmt.Errorf("record %d: kind status without status", r.Seq)
		}
		err = r.Status.Validate()
		if err == nil && r.Status.PrinterID != r.PrinterID {
			err = errors.New("status printer id differs from record's")
		}
	case KindEvent:
		if r.Event == nil {
			return fmt.Errorf("record %d: kind event without event", r.Seq)
		}
		err = r.Event.Validate()
	case KindGap:
		if r.Gap == nil {
			return fmt.Errorf("record %d: kind gap without gap", r.Seq)
		}
		if r.Gap.Feed == "" {
			err = errors.New("gap: empty feed")
		}
	case KindJob:
		if r.Job == nil {
			return fmt.Errorf("record %d: kind job without job", r.Seq)
		}
		err = r.Job.Validate()
	case KindPart:
		if r.Part == nil {
			return fmt.Errorf("record %d: kind part without part", r.Seq)
		}
		err = r.Part.Validate()
	case KindLayer:
		if r.Layer == nil {
			return fmt.Errorf("record %d: kind layer without layer", r.Seq)
		}
		err = r.Layer.Validate()
	case KindCounters:
		if r.Counters == nil {
			return fmt.Errorf("record %d: kind counters without counters", r.Seq)
		}
		if r.Counters.Time.IsZero() {
			err = errors.New("counters: zero time")
		}
	case KindConsumables:
		if r.Consumables == nil {
			return fmt.Errorf("record %d: kind consumables without consumables", r.Seq)
		}
		if r.Consumables.Time.IsZero() {
			err = errors.New("consumables: zero time")
		}
	case KindLog:
		if r.Log == nil {
			return fmt.Errorf("record %d: kind log without log line", r.Seq)
		}
		if !r.Log.Log.Valid() || r.Log.Time.IsZero() {
			err = fmt.Errorf("log line: unknown log %q or zero time", r.Log.Log)
		}
	default:
		return fmt.Errorf("record %d: unknown kind %q", r.Seq, r.Kind)
	}
	if err != nil {
		return fmt.Errorf("record %d: %w", r.Seq, err)
	}
	return nil
}

// MinYear and MaxYear bound the times a record may carry to the years
// [MinYear, MaxYear): stores keep times as signed 64-bit Unix nanoseconds,
// which end in April 2262, and no printer reported anything before 1970.
// A time outside is a broken clock, and refusing it here keeps every
// decoder of records (the uplink's, the stream consumer's) from producing
// a time that overflows on the way to storage.
const (
	MinYear = 1970
	MaxYear = 2262
)

// times returns the times of r that stores keep, by name; zero ones are
// included and mean "not set".
func (r Record) times() []namedTime {
	ts := []namedTime{{"time", r.Time}}
	switch {
	case r.Status != nil:
		ts = append(ts, namedTime{"status time", r.Status.Time})
	case r.Event != nil:
		ts = append(ts, namedTime{"event time", r.Event.Time})
	case r.Job != nil:
		ts = append(ts, namedTime{"job created_at", r.Job.CreatedAt})
	case r.Part != nil:
		ts = append(ts, namedTime{"part created_at", r.Part.CreatedAt})
	case r.Layer != nil:
		ts = append(ts, namedTime{"layer start", r.Layer.Start}, namedTime{"layer end", r.Layer.End})
	case r.Counters != nil:
		ts = append(ts, namedTime{"counters time", r.Counters.Time})
	case r.Consumables != nil:
		ts = append(ts, namedTime{"consumables time", r.Consumables.Time})
	case r.Log != nil:
		ts = append(ts, namedTime{"log time", r.Log.Time})
	}
	return ts
}

type namedTime struct {
	name string
	t    time.Time
}

// checkTimes refuses a time of r outside the years [MinYear, MaxYear).
func (r Record) checkTimes() error {
	for _, nt := range r.times() {
		if nt.t.IsZero() {
			continue
		}
		if y := nt.t.UTC().Year(); y < MinYear || y >= MaxYear {
			return fmt.Errorf("%s %s is outside the years %d to %d: the clock that set it is wrong",
				nt.name, nt.t.UTC().Format(time.RFC3339), MinYear, MaxYear-1)
		}
	}
	return nil
}

// LatestTime returns the latest time r carries: what a receiver compares
// with its own clock to find a record from the future.
func (r Record) LatestTime() time.Time {
	var latest time.Time
	for _, nt := range r.times() {
		if nt.t.After(latest) {
			latest = nt.t
		}
	}
	return latest
}
