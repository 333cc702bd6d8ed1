package mqttfeed

import "sync"

// message is one MQTT publication, always with QoS 1.
type message struct {
	topic    string
	payload  []byte
	retained bool
	seq      uint64 // position in the queue's stream; 0 for a printer's state
}

// queue holds what waits for the broker: the latest retained state of
// each topic, superseded but never dropped, and a stream of events and job
// changes bounded to limit messages, the oldest dropped beyond it. Safe for
// concurrent use: the reader of the store fills it, the publisher drains
// it, and neither waits for the other.
type queue struct {
	mu      sync.Mutex
	limit   int
	current map[string][]byte // topic → the latest retained payload
	dirty   []string          // topics whose latest payload the broker has not acknowledged, oldest first
	isDirty map[string]bool
	stream  []message
	nextSeq uint64
	dropped uint64
	// wake has room for one signal: something was queued.
	wake chan struct{}
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, current: map[string][]byte{}, isDirty: map[string]bool{}, wake: make(chan struct{}, 1)}
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// setState makes payload the retained state of topic, to be published
// unless it is what topic holds already.
func (q *queue) setState(topic string, payload []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if old, ok := q.current[topic]; ok && string(old) == string(payload) {
		return
	}
	q.current[topic] = payload
	q.markLocked(topic)
	q.signal()
}

func (q *queue) markLocked(topic string) {
	if !q.isDirty[topic] {
		q.isDirty[topic] = true
		q.dirty = append(q.dirty, topic)
	}
}

// push queues a message of the stream; when the stream holds limit
// messages already, the oldest goes and is counted.
func (q *queue) push(topic string, payload []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.stream) >= q.limit {
		n := len(q.stream) - q.limit + 1
		q.stream = q.stream[n:]
		q.dropped += uint64(n)
	}
	q.nextSeq++
	q.stream = append(q.stream, message{topic: topic, payload: payload, seq: q.nextSeq})
	q.signal()
}

// resend marks every retained state to be published again: a broker that
// restarted without persistence has forgotten them.
func (q *queue) resend() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for topic := range q.current {
		q.markLocked(topic)
	}
}

// next returns the message to publish next, the printers' states before
// the stream; false when nothing waits.
func (q *queue) next() (message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.dirty) > 0 {
		topic := q.dirty[0]
		return message{topic: topic, payload: q.current[topic], retained: true}, true
	}
	if len(q.stream) > 0 {
		return q.stream[0], true
	}
	return message{}, false
}

// done removes m, which the broker acknowledged: a state unless a newer
// one came meanwhile, a stream message unless it was dropped meanwhile.
func (q *queue) done(m message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if m.retained {
		if len(q.dirty) > 0 && q.dirty[0] == m.topic {
			q.dirty = q.dirty[1:]
			delete(q.isDirty, m.topic)
			if string(q.current[m.topic]) != string(m.payload) {
				q.markLocked(m.topic)
			}
		}
		return
	}
	if len(q.stream) > 0 && q.stream[0].seq == m.seq {
		q.stream[0] = message{}
		q.stream = q.stream[1:]
	}
}

// size returns how many messages wait and how many were dropped so far.
func (q *queue) size() (waiting int, dropped uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.dirty) + len(q.stream), q.dropped
}
