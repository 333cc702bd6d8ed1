package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/stream"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// cloudMetrics are the Prometheus collectors of one cloud node (R-PEER-4),
// registered on a registry of the node's own (never the global one).
type cloudMetrics struct {
	reg    *prometheus.Registry
	uplink uplink.Metrics
	stream stream.Metrics
	ingest ingest.Metrics
}

func newCloudMetrics() *cloudMetrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := promauto{reg}
	requests := f.counterVec("fusionfleet_uplink_requests_total", "Uplink answers by route and status code.", "route", "code")
	rejected := f.counterVec("fusionfleet_uplink_rejected_total", "Refused uploads by reason.", "reason")
	pending := f.gaugeVec("fusionfleet_stream_consumer_pending", "Messages of the stream not yet delivered to a durable consumer.", "consumer")
	redelivered := f.counterVec("fusionfleet_stream_redeliveries_total", "Messages a durable consumer got more than once.", "consumer")
	return &cloudMetrics{
		reg: reg,
		uplink: uplink.Metrics{
			Requests:        func(route, code string) uplink.Counter { return requests.WithLabelValues(route, code) },
			RecordsAccepted: f.counter("fusionfleet_uplink_records_accepted_total", "Records of uploads made durable in the stream."),
			Rejected:        func(reason string) uplink.Counter { return rejected.WithLabelValues(reason) },
			BytesIn:         f.counter("fusionfleet_uplink_bytes_total", "Upload bodies as received (compressed)."),
			DecodedBytes:    f.counter("fusionfleet_uplink_decoded_bytes_total", "Upload bodies after decompression."),
		},
		stream: stream.Metrics{
			PublishSeconds: f.histogram("fusionfleet_stream_publish_seconds", "Time until JetStream stored a published batch."),
			PublishErrors:  f.counter("fusionfleet_stream_publish_errors_total", "Publishes that failed."),
			Pending:        func(c string) stream.Gauge { return pending.WithLabelValues(c) },
			Redeliveries:   func(c string) stream.Counter { return redelivered.WithLabelValues(c) },
		},
		ingest: ingest.Metrics{
			StoreSeconds:    f.histogram("fusionfleet_store_write_seconds", "Time of one store write of a batch."),
			RecordsApplied:  f.counter("fusionfleet_store_records_applied_total", "Records written to the store (not those already there)."),
			RecordsRejected: f.counter("fusionfleet_store_records_rejected_total", "Records the store refused for good."),
			Poison:          f.counter("fusionfleet_ingest_poison_total", "Stream messages dropped because they can never be applied."),
			StoreErrors:     f.counter("fusionfleet_store_errors_total", "Store writes that failed and will be redelivered."),
		},
	}
}

// handler serves the registry in the Prometheus text format.
func (m *cloudMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// promauto registers what it makes on one registry.
type promauto struct{ reg prometheus.Registerer }

func (f promauto) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f promauto) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f promauto) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f promauto) histogram(name, help string) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	f.reg.MustRegister(h)
	return h
}
