package fleet

import (
	"fmt"
	"strings"
)

// RejectedError reports an envelope, or records of it, that a store refused
// for good: malformed records, or records of a printer that belongs to
// another site of the organisation. The envelope's other records were
// committed. Retrying the same envelope is pointless: it yields the same
// rejection and changes nothing else. Every cloud store returns this one
// type, so callers branch the same way whichever store is configured.
type RejectedError struct {
	Errs []error // one per refused record (or one for the whole envelope)
}

func (e *RejectedError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return "rejected: " + strings.Join(msgs, "; ")
}

// Unwrap returns the individual rejections.
func (e *RejectedError) Unwrap() []error { return e.Errs }

// Is makes every rejection match ErrRejected.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// StorableRecord reports why a store must refuse r for good, or nil: r is
// invalid, or carries a sequence number that does not fit the signed 64-bit
// integers SQL stores keep.
func StorableRecord(r Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	const maxSeq = 1<<63 - 1
	var too string
	switch {
	case r.Seq > maxSeq:
		too = "seq"
	case r.Event != nil && r.Event.Seq > maxSeq:
		too = "event seq"
	case r.Gap != nil && (r.Gap.FromSeq > maxSeq || r.Gap.ToSeq > maxSeq):
		too = "gap bounds"
	case r.Layer != nil && r.Layer.Seq > maxSeq:
		too = "layer seq"
	case r.Log != nil && r.Log.Seq > maxSeq:
		too = "log seq"
	}
	if too != "" {
		return fmt.Errorf("record %d: %s too large", r.Seq, too)
	}
	return nil
}

// OtherSiteError is the refusal of a record of printer p (as its gateway
// reports it) from a gateway of another site than site, the site p belongs
// to. It says what the gateway's operator can do: records do not move a
// printer, an administrator does.
func OtherSiteError(p PrinterID, site SiteID) error {
	return fmt.Errorf("printer %s belongs to site %s; an administrator can move it", p, site)
}
