package dashboard

import (
	"sync"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Hub fans out change notices to the live event streams of an
// organisation. Notices coalesce: a subscriber that is busy sees one notice
// for any number of changes, and Notify never blocks. The zero Hub is not
// usable; call NewHub.
type Hub struct {
	mu   sync.Mutex
	subs map[fleet.OrgID]map[chan struct{}]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: make(map[fleet.OrgID]map[chan struct{}]struct{})}
}

// Notify tells every subscriber of org that its printers changed.
func (h *Hub) Notify(org fleet.OrgID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[org] {
		select {
		case ch <- struct{}{}:
		default: // a notice is already pending: coalesce
		}
	}
}

// subscribe registers a subscriber of org. The returned cancel must be
// called when the subscriber goes away.
func (h *Hub) subscribe(org fleet.OrgID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[org] == nil {
		h.subs[org] = make(map[chan struct{}]struct{})
	}
	h.subs[org][ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs[org], ch)
		if len(h.subs[org]) == 0 {
			delete(h.subs, org)
		}
	}
}

// subscribers counts the subscribers of org.
func (h *Hub) subscribers(org fleet.OrgID) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[org])
}
