package commandcenter

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fusionfleet/fusionfleet/internal/clock"
)

// MetricsOptions says where the Command Center's metrics come from besides
// the store. The zero value works: the metrics of what is not given are
// left out.
type MetricsOptions struct {
	// Poller supplies the poll counters (a *Poller); nil → none.
	Poller interface{ Stats() PollStats }
	// Clock times the bandwidth windows and says since when uploads are
	// counted; nil → the real clock. Give the uploader's clock.
	Clock clock.Clock
	// Timeout bounds the store queries of one scrape; 0 → 5 s.
	Timeout time.Duration
}

// uploadScan is how many of the newest log entries one scrape reads to
// count new uploads: far more than a scrape interval sees.
const uploadScan = 1000

// Metrics is a prometheus.Collector of the Command Center's state (R-PEER-4):
// polls and poll errors, records appended per kind, gaps, the outbox's
// depth, bytes, drops and health, printers per collection state, the
// latest successful upload, uplink bandwidth, and uploads and their wire
// bytes. Everything is read at scrape time from the store and the poller,
// so nothing is counted twice and nothing needs updating. Register it with
// a registry of your own.
type Metrics struct {
	st   *Store
	opts MetricsOptions

	polls, pollErrors, records, gaps                       *prometheus.Desc
	printers                                               *prometheus.Desc
	pending, quarantined, outboxBytes, budget, oldest      *prometheus.Desc
	dropped, appendFailing                                 *prometheus.Desc
	lastUpload, bandwidth, uploads, uploadBytes, wireBytes *prometheus.Desc

	// The upload counters, summed from the upload log: entries logged at
	// or after since, up to lastID.
	mu      sync.Mutex
	since   time.Time
	lastID  int64
	counted map[UploadOutcome]uint64
	body    uint64
	wire    uint64
}

// NewMetrics returns the collector of st's metrics. Uploads count from now on.
func NewMetrics(st *Store, opts MetricsOptions) *Metrics {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	const ns = "fusionfleet_commandcenter_"
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(ns+name, help, labels, nil)
	}
	return &Metrics{
		st: st, opts: opts, since: opts.Clock.Now(), counted: map[UploadOutcome]uint64{},

		polls:      d("polls_total", "Printer polls started."),
		pollErrors: d("poll_errors_total", "Failed polls and refused answers, by kind.", "kind"),
		records:    d("records_appended_total", "Records appended to the outbox by the poller, by kind.", "kind"),
		gaps:       d("gaps_total", "Gaps recorded in printers' feeds, by feed.", "feed"),
		printers:   d("printers", "Enrolled printers, by collection state (retired: not collected).", "state"),

		pending:       d("outbox_pending_records", "Records waiting for the cloud."),
		quarantined:   d("outbox_quarantined_records", "Records set aside because the cloud refused them."),
		outboxBytes:   d("outbox_bytes", "Bytes the outbox holds, as counted against its disk budget."),
		budget:        d("outbox_budget_bytes", "The outbox's disk budget."),
		oldest:        d("outbox_oldest_pending_timestamp_seconds", "When the oldest waiting record was observed (absent when none waits)."),
		dropped:       d("outbox_dropped_records_total", "Records dropped because the outbox ran out of its disk budget."),
		appendFailing: d("outbox_append_failing", "1 while appends to the outbox fail (for example, the disk is full)."),

		lastUpload:  d("uplink_last_success_timestamp_seconds", "When the cloud last acknowledged an upload (absent until it has)."),
		bandwidth:   d("uplink_bandwidth_bytes_per_second", "Uplink bandwidth, TCP payload both ways with TLS handshakes, by averaging window.", "window"),
		uploads:     d("uploads_total", "Upload attempts since the process started, by outcome.", "outcome"),
		uploadBytes: d("uplink_body_bytes_total", "Compressed upload bodies sent since the process started."),
		wireBytes:   d("uplink_wire_bytes_total", "Estimated TCP payload over the uplink since the process started (uploads and the update mirror's fetches), TLS handshakes and answers included."),
	}
}

// Describe sends the descriptors of every metric.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		m.polls, m.pollErrors, m.records, m.gaps, m.printers,
		m.pending, m.quarantined, m.outboxBytes, m.budget, m.oldest, m.dropped, m.appendFailing,
		m.lastUpload, m.bandwidth, m.uploads, m.uploadBytes, m.wireBytes,
	} {
		ch <- d
	}
}

// Collect reads the metrics. A source that fails yields an invalid metric,
// so the scrape reports the error and serves the rest.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	// A scrape is a root of its own: the registry passes no context.
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.Timeout)
	defer cancel()
	m.collectPolls(ch)
	m.collectPrinters(ctx, ch)
	m.collectOutbox(ctx, ch)
	m.collectUplink(ctx, ch)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func (m *Metrics) collectPolls(ch chan<- prometheus.Metric) {
	if m.opts.Poller == nil {
		return
	}
	s := m.opts.Poller.Stats()
	ch <- counter(m.polls, float64(s.Polls))
	for k, n := range s.PollErrors {
		ch <- counter(m.pollErrors, float64(n), string(k))
	}
	for k, n := range s.Records {
		ch <- counter(m.records, float64(n), string(k))
	}
	for feed, n := range s.Gaps {
		ch <- counter(m.gaps, float64(n), feed)
	}
}

// retiredState is the metrics' state of a retired printer.
const retiredState CollectionState = "retired"

// collectionStates lists every collection state, so each has a series.
func collectionStates() []CollectionState {
	return []CollectionState{CollectionNew, CollectionOK, CollectionUnreachable, CollectionBadInput, CollectionCertificateChanged, CollectionNotPaired}
}

func (m *Metrics) collectPrinters(ctx context.Context, ch chan<- prometheus.Metric) {
	ps, err := m.st.Printers(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.printers, err)
		return
	}
	// A retired printer counts as retired, whatever its collection state
	// was when it stopped: it is not collected.
	n := map[CollectionState]int{}
	for _, p := range ps {
		if p.Retired() {
			n[retiredState]++
			continue
		}
		n[p.State]++
	}
	for _, s := range append(collectionStates(), retiredState) {
		ch <- gauge(m.printers, float64(n[s]), string(s))
		delete(n, s)
	}
	for s, c := range n { // a state added later
		ch <- gauge(m.printers, float64(c), string(s))
	}
}

func (m *Metrics) collectOutbox(ctx context.Context, ch chan<- prometheus.Metric) {
	o, err := m.st.Outbox().State(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.pending, err)
		return
	}
	ch <- gauge(m.pending, float64(o.Pending))
	ch <- gauge(m.quarantined, float64(o.Quarantined))
	ch <- gauge(m.outboxBytes, float64(o.Bytes))
	ch <- gauge(m.budget, float64(o.Budget))
	if !o.Oldest.IsZero() {
		ch <- gauge(m.oldest, unixSeconds(o.Oldest))
	}
	ch <- counter(m.dropped, float64(o.DroppedRecords))
	failing := 0.0
	if o.Health.Failing {
		failing = 1
	}
	ch <- gauge(m.appendFailing, failing)
}

func (m *Metrics) collectUplink(ctx context.Context, ch chan<- prometheus.Metric) {
	u, err := m.st.UplinkState(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.lastUpload, err)
	} else if !u.LastSuccess.IsZero() {
		ch <- gauge(m.lastUpload, unixSeconds(u.LastSuccess))
	}
	bw, err := m.st.Bandwidth(ctx, m.opts.Clock.Now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.bandwidth, err)
	} else {
		ch <- gauge(m.bandwidth, bw.Current/8, "1m")
		ch <- gauge(m.bandwidth, bw.Hour/8, "1h")
		ch <- gauge(m.bandwidth, bw.Average/8, "24h")
	}
	if err := m.countUploads(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(m.uploads, err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range []UploadOutcome{UploadAcknowledged, UploadFailed, UploadQuarantined, UploadSplit} {
		ch <- counter(m.uploads, float64(m.counted[o]), string(o))
	}
	ch <- counter(m.uploadBytes, float64(m.body))
	ch <- counter(m.wireBytes, float64(m.wire))
}

// countUploads adds the upload log's entries logged since the previous
// scrape (and not before the collector was made) to the upload counters.
func (m *Metrics) countUploads(ctx context.Context) error {
	es, err := m.st.Uploads(ctx, uploadScan)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	last := m.lastID
	for _, e := range es { // newest first
		if e.ID <= m.lastID {
			break
		}
		last = max(last, e.ID)
		if e.At.Before(m.since) {
			continue
		}
		// The mirror's fetches took the link too, but they are no
		// uploads: an alert on failed uploads must not fire for them.
		m.wire += uint64(e.WireBytes)
		if e.Kind == TransferMirror {
			continue
		}
		m.counted[e.Outcome]++
		m.body += uint64(e.BodyBytes)
	}
	m.lastID = last
	return nil
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}
