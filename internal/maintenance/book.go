package maintenance

import (
	"context"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// BookOptions tune a Book. The zero value works.
type BookOptions struct {
	// Window is how much history a printer's tracker starts from: enough
	// to see its components installed. Zero means 365 days.
	Window time.Duration
	// Settle is how long after their time records are taken to have
	// arrived: the tracker kept advances to Settle before now, and a
	// request replays the last Settle onto a copy of it. Zero means an
	// hour.
	Settle time.Duration
	// Rebuild is how often a printer's tracker is built anew from the
	// whole window, to take in records that arrived later than Settle
	// (say after a gateway's outage). Zero means 6 hours.
	Rebuild time.Duration
}

// Book keeps a tracker per printer and advances it from a watermark, so a
// forecast reads only the records of the last hour and those stored since
// the last request, instead of replaying a year of history. It is safe
// for concurrent use.
type Book struct {
	h    HistoryReader
	opts BookOptions

	mu       sync.Mutex
	printers map[bookKey]*bookEntry
}

type bookKey struct {
	org fleet.OrgID
	id  fleet.PrinterID
}

type bookEntry struct {
	mu sync.Mutex
	tr *Tracker
	// mark is the watermark: records before it are in tr. built is when
	// tr was built from the whole window.
	mark, built time.Time
}

// NewBook returns a book over h.
func NewBook(h HistoryReader, opts BookOptions) *Book {
	if opts.Window <= 0 {
		opts.Window = 365 * 24 * time.Hour
	}
	if opts.Rebuild <= 0 {
		opts.Rebuild = 6 * time.Hour
	}
	if opts.Settle <= 0 {
		opts.Settle = time.Hour
	}
	return &Book{h: h, opts: opts, printers: map[bookKey]*bookEntry{}}
}

// View brings the printer's tracker up to now and calls fn with it; fn
// must not keep it.
func (b *Book) View(ctx context.Context, org fleet.OrgID, id fleet.PrinterID, now time.Time, fn func(*Tracker)) error {
	b.mu.Lock()
	e := b.printers[bookKey{org, id}]
	if e == nil {
		e = &bookEntry{}
		b.printers[bookKey{org, id}] = e
	}
	b.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	// The kept tracker holds the records before settled; this request
	// adds the rest, up to now (the range's end is exclusive: a reading
	// taken now is in), to a copy.
	settled, to := now.Add(-b.opts.Settle), now.Add(time.Second)
	switch {
	case e.tr == nil || now.Sub(e.built) >= b.opts.Rebuild || settled.Before(e.mark):
		tr := NewTracker()
		if err := Replay(ctx, b.h, tr, org, id, now.Add(-b.opts.Window), settled); err != nil {
			return err
		}
		tr.ended = nil // lives that ended are the trainer's, not a forecast's
		e.tr, e.mark, e.built = tr, settled, now
	case settled.After(e.mark):
		if err := Replay(ctx, b.h, e.tr, org, id, e.mark, settled); err != nil {
			// The tracker may hold part of the range: build it anew next time.
			e.tr = nil
			return err
		}
		e.tr.ended = nil
		e.mark = settled
	}
	tr := e.tr.clone(id)
	if err := Replay(ctx, b.h, tr, org, id, e.mark, to); err != nil {
		return err
	}
	fn(tr)
	return nil
}
