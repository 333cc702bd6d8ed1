package printer

import "github.com/fusionfleet/fusionfleet/internal/fleet"

// eventRing keeps the latest capacity events; Seq numbers start at 1 and
// increase by one per event.
type eventRing struct {
	capacity int
	buf      []fleet.Event // grows to capacity, then wraps at start
	start    int           // index of the oldest event once full
	next     uint64        // Seq of the next event
}

func (r *eventRing) add(e fleet.Event) {
	e.Seq = r.next
	r.next++
	if len(r.buf) < r.capacity {
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.start] = e
	r.start = (r.start + 1) % r.capacity
}

// first returns the oldest Seq held, or the next Seq when none is.
func (r *eventRing) first() uint64 {
	return r.next - uint64(len(r.buf))
}

// page returns the events with Seq > after, oldest first, at most limit,
// and the cursor for the next read.
func (r *eventRing) page(after uint64, limit int) ([]fleet.Event, uint64) {
	evs := []fleet.Event{}
	last := r.next - 1
	if limit <= 0 || after >= last {
		return evs, after
	}
	from := max(after+1, r.first())
	off := int(from - r.first())
	n := min(limit, len(r.buf)-off)
	for i := range n {
		evs = append(evs, r.buf[(r.start+off+i)%len(r.buf)])
	}
	return evs, evs[n-1].Seq
}
