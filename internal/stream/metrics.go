package stream

// Counter is a monotonically rising count; prometheus.Counter is one.
type Counter interface{ Add(float64) }

// Gauge is a value that goes up and down; prometheus.Gauge is one.
type Gauge interface{ Set(float64) }

// Observer takes samples for a histogram; prometheus.Histogram is one.
type Observer interface{ Observe(float64) }

// Metrics receives the stream's measurements. Each field is optional: the
// zero value records nothing. The shapes match the Prometheus client, so
// wiring is one line per field, e.g.
//
//	Pending: func(consumer string) stream.Gauge { return vec.WithLabelValues(consumer) }
//
// All of them must be safe for concurrent use.
type Metrics struct {
	// PublishSeconds observes how long Publish waited for JetStream to
	// store a message.
	PublishSeconds Observer
	// PublishErrors counts publishes that failed.
	PublishErrors Counter
	// Pending is the lag of a durable consumer: the messages of the stream
	// not yet delivered to it. Set on every message and every few seconds.
	Pending func(consumer string) Gauge
	// Redeliveries counts messages a durable consumer got more than once
	// (a failed callback, or a node that died holding the message).
	Redeliveries func(consumer string) Counter
}

func add(c Counter, v float64) {
	if c != nil {
		c.Add(v)
	}
}
