package mtconnect

import (
	"sync"
	"time"
)

// level is the state of a condition observation; "" for samples and
// events.
type level string

// The condition levels, named as their elements are.
const (
	levelUnavailable level = "Unavailable"
	levelNormal      level = "Normal"
	levelWarning     level = "Warning"
	levelFault       level = "Fault"
)

// unavailable is the value of a sample or event whose value is not known.
const unavailable = "UNAVAILABLE"

// observation is one entry of the agent's buffer: a data item's new value
// (or condition) at a sequence number.
type observation struct {
	seq   uint64
	item  *dataItem
	at    time.Time
	value string // samples and events; a condition's text
	level level  // conditions
	code  string // conditions: the native code
}

// same reports whether o carries the same value as p (sequence and time
// aside): an agent records a data item only when its value changes.
func (o observation) same(p observation) bool {
	return o.value == p.value && o.level == p.level && o.code == p.code
}

// buffer is the agent's circular buffer of observations (the standard's
// "buffer"): the newest size observations, numbered from 1 without gaps
// for the life of the agent's instance. It keeps the latest observation
// of every data item for /current, and for /current?at= the latest one of
// every item that left the buffer (the checkpoint at firstSequence).
// Safe for concurrent use.
type buffer struct {
	mu   sync.Mutex
	ring []observation
	// next is the sequence number the next observation gets; the buffer
	// holds next-len … next-1 once it has wrapped, 1 … next-1 before.
	next       uint64
	n          int // observations held
	latest     map[string]observation
	checkpoint map[string]observation
	// changed is closed, and replaced, whenever observations are added:
	// streams waiting for news select on it.
	changed chan struct{}
}

func newBuffer(size int) *buffer {
	return &buffer{ring: make([]observation, size), next: 1, latest: map[string]observation{},
		checkpoint: map[string]observation{}, changed: make(chan struct{})}
}

// size is the buffer's capacity.
func (b *buffer) size() int { return len(b.ring) }

// add numbers and keeps obs, in order, evicting the oldest observations
// past the buffer's size, and wakes the waiting streams.
func (b *buffer) add(obs ...observation) {
	if len(obs) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range obs {
		o.seq = b.next
		b.next++
		i := int(o.seq % uint64(len(b.ring)))
		if b.n == len(b.ring) {
			old := b.ring[i]
			b.checkpoint[old.item.id] = old
		} else {
			b.n++
		}
		b.ring[i] = o
		b.latest[o.item.id] = o
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

// latestOf returns the latest observation of data item id.
func (b *buffer) latestOf(id string) (observation, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.latest[id]
	return o, ok
}

// sequences returns the first sequence number held, the next one to be
// given, and the channel closed when more observations arrive.
func (b *buffer) sequences() (first, next uint64, changed <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.first(), b.next, b.changed
}

func (b *buffer) first() uint64 { return b.next - uint64(b.n) }

// at returns the latest observation of every data item as of sequence
// number seq (seq itself included), with the buffer's sequence numbers
// then; ok is false when seq is not in the buffer.
func (b *buffer) at(seq uint64) (obs map[string]observation, first, next uint64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	first, next = b.first(), b.next
	if seq < first || seq >= next {
		return nil, first, next, false
	}
	obs = make(map[string]observation, len(b.latest))
	for id, o := range b.checkpoint {
		obs[id] = o
	}
	for s := first; s <= seq; s++ {
		o := b.ring[int(s%uint64(len(b.ring)))]
		obs[o.item.id] = o
	}
	return obs, first, next, true
}

// current returns the latest observation of every data item, with the
// buffer's sequence numbers.
func (b *buffer) current() (obs map[string]observation, first, next uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	obs = make(map[string]observation, len(b.latest))
	for id, o := range b.latest {
		obs[id] = o
	}
	return obs, b.first(), b.next
}

// span is a run of sequence numbers to read: from (inclusive) to to
// (exclusive; 0 → the end of the buffer), at most count observations that
// match keep, read forwards, or with backwards the last count of them
// before to.
type span struct {
	from, to  uint64
	count     int
	backwards bool
	keep      func(*dataItem) bool
}

// read returns the observations of sp and the sequence number a client
// continues from (the standard's nextSequence), with the buffer's first
// and next sequence numbers; ok is false when sp.from has left the buffer
// or lies beyond its end.
func (b *buffer) read(sp span) (obs []observation, cont, first, next uint64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	first, next = b.first(), b.next
	if sp.from < first || sp.from > next {
		return nil, 0, first, next, false
	}
	end := next
	if sp.to != 0 && sp.to < end {
		end = sp.to
	}
	get := func(s uint64) observation { return b.ring[int(s%uint64(len(b.ring)))] }
	if sp.backwards {
		for s := end; s > sp.from && len(obs) < sp.count; s-- {
			if o := get(s - 1); sp.keep(o.item) {
				obs = append(obs, o)
			}
		}
		for i, j := 0, len(obs)-1; i < j; i, j = i+1, j-1 {
			obs[i], obs[j] = obs[j], obs[i]
		}
		return obs, end, first, next, true
	}
	cont = sp.from
	for ; cont < end && len(obs) < sp.count; cont++ {
		if o := get(cont); sp.keep(o.item) {
			obs = append(obs, o)
		}
	}
	return obs, cont, first, next, true
}
