package fleet

import (
	"errors"
	"fmt"
	"time"
)

// Kind says what a Record carries.
type Kind string

// The record kinds that cross the uplink. Later issues add jobs, layers,
// counters, consumables and logs.
const (
	KindIdentity Kind = "identity"
	KindStatus   Kind = "status"
	KindEvent    Kind = "event"
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

	Identity *Identity `json:"identity,omitempty"`
	Status   *Status   `json:"status,omitempty"`
	Event    *Event    `json:"event,omitempty"`
	Gap      *Gap      `json:"gap,omitempty"`
}

// Gap describes feed data a gateway could not read.
type Gap struct {
	Feed   string `json:"feed"` // "events", later "jobs", "layers", "logs"
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
	set := 0
	for _, p := range []bool{r.Identity != nil, r.Status != nil, r.Event != nil, r.Gap != nil} {
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
	default:
		return fmt.Errorf("record %d: unknown kind %q", r.Seq, r.Kind)
	}
	if err != nil {
		return fmt.Errorf("record %d: %w", r.Seq, err)
	}
	return nil
}
