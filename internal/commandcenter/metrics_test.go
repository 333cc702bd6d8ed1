package commandcenter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// fixedStats is a poller as metrics see it.
type fixedStats PollStats

func (s fixedStats) Stats() PollStats { return PollStats(s) }

// ackAll is a cloud that acknowledges every batch, or fails with err.
type ackAll struct{ err error }

func (c ackAll) Upload(_ context.Context, b uplink.Batch) (uplink.Ack, error) {
	if c.err != nil {
		return uplink.Ack{}, c.err
	}
	return uplink.Ack{Through: b.Records[len(b.Records)-1].Seq}, nil
}

func gatherer(t *testing.T, c prometheus.Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestMetrics(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	clk := clock.NewManual(t0)
	if _, err := st.AddPrinter(ctx, "printer-a:8443", fpA, t0); err != nil {
		t.Fatal(err)
	}
	down, err := st.AddPrinter(ctx, "printer-b:8443", "BB", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.MarkFailed(ctx, down.ID, CollectionUnreachable, "refused", t0); err != nil {
		t.Fatal(err)
	}
	old, err := st.AddPrinter(ctx, "printer-c:8443", "CC", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RetirePrinter(ctx, old.ID, t0); err != nil {
		t.Fatal(err)
	}
	appendN(t, st, 3)

	m := NewMetrics(st, MetricsOptions{Clock: clk, Poller: fixedStats{
		Polls:      7,
		PollErrors: map[PollErrorKind]uint64{ErrorTimeout: 2},
		Records:    map[fleet.Kind]uint64{fleet.KindStatus: 5, fleet.KindLayer: 40},
		Gaps:       map[string]uint64{"events": 1},
	}})
	reg := gatherer(t, m)

	// Before any upload: three records waiting, nothing sent.
	want := `
# HELP fusionfleet_commandcenter_polls_total Printer polls started.
# TYPE fusionfleet_commandcenter_polls_total counter
fusionfleet_commandcenter_polls_total 7
# HELP fusionfleet_commandcenter_poll_errors_total Failed polls and refused answers, by kind.
# TYPE fusionfleet_commandcenter_poll_errors_total counter
fusionfleet_commandcenter_poll_errors_total{kind="timeout"} 2
# HELP fusionfleet_commandcenter_records_appended_total Records appended to the outbox by the poller, by kind.
# TYPE fusionfleet_commandcenter_records_appended_total counter
fusionfleet_commandcenter_records_appended_total{kind="layer"} 40
fusionfleet_commandcenter_records_appended_total{kind="status"} 5
# HELP fusionfleet_commandcenter_gaps_total Gaps recorded in printers' feeds, by feed.
# TYPE fusionfleet_commandcenter_gaps_total counter
fusionfleet_commandcenter_gaps_total{feed="events"} 1
# HELP fusionfleet_commandcenter_printers Enrolled printers, by collection state (retired: not collected).
# TYPE fusionfleet_commandcenter_printers gauge
fusionfleet_commandcenter_printers{state="bad input"} 0
fusionfleet_commandcenter_printers{state="certificate changed"} 0
fusionfleet_commandcenter_printers{state="new"} 1
fusionfleet_commandcenter_printers{state="not paired"} 0
fusionfleet_commandcenter_printers{state="ok"} 0
fusionfleet_commandcenter_printers{state="retired"} 1
fusionfleet_commandcenter_printers{state="unreachable"} 1
# HELP fusionfleet_commandcenter_outbox_pending_records Records waiting for the cloud.
# TYPE fusionfleet_commandcenter_outbox_pending_records gauge
fusionfleet_commandcenter_outbox_pending_records 3
# HELP fusionfleet_commandcenter_outbox_dropped_records_total Records dropped because the outbox ran out of its disk budget.
# TYPE fusionfleet_commandcenter_outbox_dropped_records_total counter
fusionfleet_commandcenter_outbox_dropped_records_total 0
# HELP fusionfleet_commandcenter_outbox_append_failing 1 while appends to the outbox fail (for example, the disk is full).
# TYPE fusionfleet_commandcenter_outbox_append_failing gauge
fusionfleet_commandcenter_outbox_append_failing 0
# HELP fusionfleet_commandcenter_uplink_wire_bytes_total Estimated TCP payload over the uplink since the process started (uploads and the update mirror's fetches), TLS handshakes and answers included.
# TYPE fusionfleet_commandcenter_uplink_wire_bytes_total counter
fusionfleet_commandcenter_uplink_wire_bytes_total 0
`
	names := []string{"fusionfleet_commandcenter_polls_total", "fusionfleet_commandcenter_poll_errors_total",
		"fusionfleet_commandcenter_records_appended_total", "fusionfleet_commandcenter_gaps_total",
		"fusionfleet_commandcenter_printers", "fusionfleet_commandcenter_outbox_pending_records",
		"fusionfleet_commandcenter_outbox_dropped_records_total", "fusionfleet_commandcenter_outbox_append_failing",
		"fusionfleet_commandcenter_uplink_wire_bytes_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "fusionfleet_commandcenter_uplink_last_success_timestamp_seconds"); err != nil || n != 0 {
		t.Errorf("last success before any upload: %d series, %v; want none", n, err)
	}
	if got := testutil.ToFloat64(collectorOf(m, m.oldest)); got <= 0 {
		t.Errorf("oldest pending = %v, want a time", got)
	}

	// One failed and one acknowledged upload.
	clk.Advance(time.Minute)
	failing := NewUploader(st, ackAll{err: errors.New("cloud down")}, UploaderOptions{Clock: clk})
	if _, err := failing.UploadOnce(ctx); err == nil {
		t.Fatal("upload to a failing cloud succeeded")
	}
	if n, err := NewUploader(st, ackAll{}, UploaderOptions{Clock: clk}).UploadOnce(ctx); err != nil || n != 3 {
		t.Fatalf("UploadOnce = %d, %v; want 3", n, err)
	}
	es, err := st.Uploads(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var wire float64
	for _, e := range es {
		wire += float64(e.WireBytes)
	}
	tests := []struct {
		name string
		desc *prometheus.Desc
		want float64
	}{
		{"pending", m.pending, 0},
		{"wire bytes", m.wireBytes, wire},
		{"last success", m.lastUpload, unixSeconds(clk.Now())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testutil.ToFloat64(collectorOf(m, tt.desc)); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
	want = `
# HELP fusionfleet_commandcenter_uploads_total Upload attempts since the process started, by outcome.
# TYPE fusionfleet_commandcenter_uploads_total counter
fusionfleet_commandcenter_uploads_total{outcome="acknowledged"} 1
fusionfleet_commandcenter_uploads_total{outcome="failed"} 1
fusionfleet_commandcenter_uploads_total{outcome="quarantined"} 0
fusionfleet_commandcenter_uploads_total{outcome="split"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fusionfleet_commandcenter_uploads_total"); err != nil {
		t.Error(err)
	}
	// A second scrape counts nothing twice.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fusionfleet_commandcenter_uploads_total"); err != nil {
		t.Errorf("second scrape: %v", err)
	}
	if got := testutil.ToFloat64(collectorOf(m, m.bandwidth)); got <= 0 {
		// collectorOf picks the first series: the 1-minute window.
		t.Errorf("bandwidth over the last minute = %v, want > 0", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestMetricsCountOnlyNewUploads(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	clk := clock.NewManual(t0)
	appendN(t, st, 2)
	if _, err := NewUploader(st, ackAll{}, UploaderOptions{Clock: clk}).UploadOnce(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	m := NewMetrics(st, MetricsOptions{Clock: clk}) // a restart: the earlier upload is history
	if got := testutil.ToFloat64(collectorOf(m, m.wireBytes)); got != 0 {
		t.Errorf("wire bytes after restart = %v, want 0", got)
	}
	appendN(t, st, 1)
	if _, err := NewUploader(st, ackAll{}, UploaderOptions{Clock: clk}).UploadOnce(ctx); err != nil {
		t.Fatal(err)
	}
	es, err := st.Uploads(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := testutil.ToFloat64(collectorOf(m, m.wireBytes)), float64(es[0].WireBytes); got != want {
		t.Errorf("wire bytes = %v, want the new upload's %v", got, want)
	}
	if n, err := testutil.GatherAndCount(gatherer(t, m), "fusionfleet_commandcenter_polls_total"); err != nil || n != 0 {
		t.Errorf("poll metrics without a poller: %d series, %v", n, err)
	}
}

func TestMetricsStoreFailure(t *testing.T) {
	st, _ := openStore(t)
	m := NewMetrics(st, MetricsOptions{})
	reg := gatherer(t, m)
	st.Close()
	_, err := reg.Gather()
	if err == nil {
		t.Fatal("gather from a closed store succeeded")
	}
	for _, want := range []string{"fusionfleet_commandcenter_printers", "fusionfleet_commandcenter_outbox_pending_records",
		"fusionfleet_commandcenter_uplink_last_success_timestamp_seconds", "fusionfleet_commandcenter_uplink_bandwidth_bytes_per_second",
		"fusionfleet_commandcenter_uploads_total"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("gather error %q does not name %s", err, want)
		}
	}
}

// collectorOf returns a collector of m's first series of desc alone.
func collectorOf(m *Metrics, desc *prometheus.Desc) prometheus.Collector {
	return onlyDesc{m, desc}
}

type onlyDesc struct {
	m    *Metrics
	desc *prometheus.Desc
}

func (o onlyDesc) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o onlyDesc) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { o.m.Collect(all); close(all) }()
	sent := false
	for mt := range all {
		if !sent && mt.Desc() == o.desc {
			ch <- mt
			sent = true
		}
	}
}
