package cloud

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/stream"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// metrics are the Prometheus collectors of one node (R-PEER-4).
type metrics struct {
	reg    *prometheus.Registry
	uplink uplink.Metrics
	stream stream.Metrics
	ingest ingest.Metrics
}

// newMetrics registers the node's collectors on reg; nil → a registry of
// the node's own with the Go and process collectors.
func newMetrics(reg *prometheus.Registry) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	f := promauto.With(reg)
	counter := func(name, help string) prometheus.Counter {
		return f.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	histogram := func(name, help string) prometheus.Histogram {
		return f.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	}
	requests := f.NewCounterVec(prometheus.CounterOpts{Name: "fusionfleet_uplink_requests_total", Help: "Uplink answers by route and status code."}, []string{"route", "code"})
	rejected := f.NewCounterVec(prometheus.CounterOpts{Name: "fusionfleet_uplink_rejected_total", Help: "Refused uploads by reason."}, []string{"reason"})
	pending := f.NewGaugeVec(prometheus.GaugeOpts{Name: "fusionfleet_stream_consumer_pending", Help: "Messages of the stream not yet delivered to a durable consumer."}, []string{"consumer"})
	redelivered := f.NewCounterVec(prometheus.CounterOpts{Name: "fusionfleet_stream_redeliveries_total", Help: "Messages a durable consumer got more than once."}, []string{"consumer"})
	return &metrics{
		reg: reg,
		uplink: uplink.Metrics{
			Requests:        func(route, code string) uplink.Counter { return requests.WithLabelValues(route, code) },
			RecordsAccepted: counter("fusionfleet_uplink_records_accepted_total", "Records of uploads made durable in the stream."),
			Rejected:        func(reason string) uplink.Counter { return rejected.WithLabelValues(reason) },
			BytesIn:         counter("fusionfleet_uplink_bytes_total", "Upload bodies as received (compressed)."),
			DecodedBytes:    counter("fusionfleet_uplink_decoded_bytes_total", "Upload bodies after decompression."),
		},
		stream: stream.Metrics{
			PublishSeconds: histogram("fusionfleet_stream_publish_seconds", "Time until JetStream stored a published batch."),
			PublishErrors:  counter("fusionfleet_stream_publish_errors_total", "Publishes that failed."),
			Pending:        func(c string) stream.Gauge { return pending.WithLabelValues(c) },
			Redeliveries:   func(c string) stream.Counter { return redelivered.WithLabelValues(c) },
		},
		ingest: ingest.Metrics{
			StoreSeconds:    histogram("fusionfleet_store_write_seconds", "Time of one store write of a batch."),
			RecordsApplied:  counter("fusionfleet_store_records_applied_total", "Records written to the store (not those already there)."),
			RecordsRejected: counter("fusionfleet_store_records_rejected_total", "Records the store refused for good."),
			Poison:          counter("fusionfleet_ingest_poison_total", "Stream messages dropped because they can never be applied."),
			StoreErrors:     counter("fusionfleet_store_errors_total", "Store writes that failed and will be redelivered."),
		},
	}
}

// handler serves the registry in the Prometheus text format; with a
// token (nil → public), only to requests presenting it as
// "Authorization: Bearer …", and 401 to others.
func (m *metrics) handler(token []byte) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	if token == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix = "Bearer "
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, prefix) || subtle.ConstantTimeCompare([]byte(auth[len(prefix):]), token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fusionfleet metrics"`)
			http.Error(w, "metrics need the bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// readMetricsToken reads the token /metrics asks for from file; "" → nil,
// metrics are public.
func readMetricsToken(file string) ([]byte, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cloud: metrics token: %w", err)
	}
	token := []byte(strings.TrimSpace(string(b)))
	if len(token) < 16 {
		return nil, fmt.Errorf("cloud: metrics token in %s: want at least 16 characters", file)
	}
	return token, nil
}
