package printer

// ring keeps the latest capacity items of a feed; Seq numbers start at 1
// and increase by one per item. Items are compact records rendered into
// wire types only when read, so a thousand printers fit in little memory.
type ring[T any] struct {
	capacity int
	buf      []T    // grows to capacity, then wraps at start
	start    int    // index of the oldest item once full
	next     uint64 // Seq of the next item
}

func newRing[T any](capacity int) ring[T] { return ring[T]{capacity: capacity, next: 1} }

// add appends v and returns its Seq.
func (r *ring[T]) add(v T) uint64 {
	seq := r.next
	r.next++
	if len(r.buf) < r.capacity {
		if len(r.buf) == cap(r.buf) {
			// Grow by doubling but never beyond capacity.
			nb := make([]T, len(r.buf), min(max(2*cap(r.buf), 16), r.capacity))
			copy(nb, r.buf)
			r.buf = nb
		}
		r.buf = append(r.buf, v)
		return seq
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % r.capacity
	return seq
}

// first returns the oldest Seq held, or the next Seq when none is.
func (r *ring[T]) first() uint64 { return r.next - uint64(len(r.buf)) }

// last returns the newest Seq held (0 when nothing was ever added).
func (r *ring[T]) last() uint64 { return r.next - 1 }

// at returns the item with the given Seq, which must be held.
func (r *ring[T]) at(seq uint64) *T {
	off := int(seq - r.first())
	return &r.buf[(r.start+off)%len(r.buf)]
}

// span returns the Seqs of the items with Seq > after, oldest first, at
// most limit: from..to inclusive, or ok false when there are none.
func (r *ring[T]) span(after uint64, limit int) (from, to uint64, ok bool) {
	last := r.last()
	if limit <= 0 || after >= last || len(r.buf) == 0 {
		return 0, 0, false
	}
	from = max(after+1, r.first())
	to = from + uint64(limit) - 1
	if to > last || to < from { // the second catches overflow
		to = last
	}
	return from, to, true
}

// page renders the items with Seq > after, oldest first, at most limit,
// and returns them with the cursor for the next read.
func page[T, W any](r *ring[T], after uint64, limit int, render func(seq uint64, v *T) W) ([]W, uint64) {
	from, to, ok := r.span(after, limit)
	if !ok {
		return []W{}, after
	}
	out := make([]W, 0, to-from+1)
	for s := from; s <= to; s++ {
		out = append(out, render(s, r.at(s)))
	}
	return out, to
}

// rec is the compact form of an event or a log line: a template and its
// arguments, rendered into text when read.
type rec struct {
	ms   int64  // time, Unix milliseconds
	tmpl uint16 // index into the event or log templates
	job  uint16 // job number (see Printer.jobIDs), 0 for none
	a, b uint16 // small integers: slot, layer, count
	v, w float32
}

// layerRec is the compact form of a layer record.
type layerRec struct {
	ms    int64  // start, Unix milliseconds
	durMS uint16 // duration in milliseconds
	index uint16 // 1-based layer index
	job   uint16 // job number
	area  uint16 // fused area in units of areaUnitMM2
}

const areaUnitMM2 = 2.0
