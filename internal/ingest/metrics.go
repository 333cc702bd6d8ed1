package ingest

// Counter is a monotonically rising count; prometheus.Counter is one.
type Counter interface{ Add(float64) }

// Observer takes samples for a histogram; prometheus.Histogram is one.
type Observer interface{ Observe(float64) }

// Metrics receives the writer's measurements. Each field is optional: the
// zero value records nothing. The shapes match the Prometheus client, so
// wiring is one line per field. All of them must be safe for concurrent
// use.
type Metrics struct {
	// StoreSeconds observes how long each store write took, failed or not.
	StoreSeconds Observer
	// RecordsApplied counts records written (not those already stored).
	RecordsApplied Counter
	// RecordsRejected counts records the store refused for good.
	RecordsRejected Counter
	// Poison counts messages dropped because they can never be applied.
	Poison Counter
	// StoreErrors counts store writes that failed and will be redelivered.
	StoreErrors Counter
}

func add(c Counter, v float64) {
	if c != nil {
		c.Add(v)
	}
}
