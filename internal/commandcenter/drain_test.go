package commandcenter

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// A site in production and after an outage, simulated on a manual clock:
// the drain, the bandwidth cap and the uplink benchmark.

// siteRecords is what a printer in continuous production yields in the
// interval (now-dt, now]: a layer every 9 s, a status a minute, counters
// every 5 minutes.
func siteRecords(printers int, now time.Time, dt time.Duration) []fleet.Record {
	var recs []fleet.Record
	start := now.Add(-dt)
	for p := 1; p <= printers; p++ {
		pid := fleet.PrinterID(fmt.Sprintf("printer-%04d", p))
		for at := start.Truncate(9 * time.Second).Add(9 * time.Second); !at.After(now); at = at.Add(9 * time.Second) {
			recs = append(recs, layerRec(pid, int(at.Unix()/9%100000)+1, at))
		}
		for at := start.Truncate(time.Minute).Add(time.Minute); !at.After(now); at = at.Add(time.Minute) {
			recs = append(recs, statusRec(pid, at))
		}
		for at := start.Truncate(5 * time.Minute).Add(5 * time.Minute); !at.After(now); at = at.Add(5 * time.Minute) {
			recs = append(recs, fleet.Record{Kind: fleet.KindCounters, PrinterID: pid, Time: at, Counters: &fleet.Counters{
				TotalJobs: 1234, Layers: at.Unix() / 9, PrintTimeSec: float64(at.Unix() % 1e7), Time: at}})
		}
	}
	return recs
}

// simulate steps u under clk until end, appending what produce yields
// every tick first. Time jumps to whatever comes next: a day takes
// milliseconds of waiting.
func simulate(tb testing.TB, st *Store, u *Uploader, clk *clock.Manual, end time.Time, tick time.Duration, produce func(now time.Time, dt time.Duration) []fleet.Record) {
	tb.Helper()
	ctx := tb.Context()
	next := clk.Now()
	for steps := 0; clk.Now().Before(end); steps++ {
		if steps > 10_000_000 {
			tb.Fatal("simulation makes no progress")
		}
		now := clk.Now()
		if !now.Before(next) {
			if recs := produce(now, tick); len(recs) > 0 {
				if err := st.Outbox().Append(ctx, recs...); err != nil {
					tb.Fatal(err)
				}
			}
			next = next.Add(tick)
		}
		wait, _ := u.Step(ctx)
		if wait > 0 {
			clk.Advance(min(wait, next.Sub(now), end.Sub(now)))
		}
	}
}

func TestOutageThenDrain(t *testing.T) {
	st, _ := openStore(t)
	clk := clock.NewManual(t0)
	cloud := &fakeCloud{clk: clk, err: errors.New("connection refused"), down: true}
	const rate = 200.0 // bytes/s: a drain of half an hour
	u := NewUploader(st, cloud, UploaderOptions{Clock: clk, RateBytes: rate})
	// One printer keeps the test quick; BenchmarkSiteUplink runs ten.
	const printers = 1
	site := func(now time.Time, dt time.Duration) []fleet.Record { return siteRecords(printers, now, dt) }

	// A day offline, produced 5 minutes at a time.
	outageEnd := t0.Add(24 * time.Hour)
	simulate(t, st, u, clk, outageEnd, 5*time.Minute, site)
	backlog, err := st.Outbox().PendingCount(t.Context())
	if err != nil || backlog < 10_000 {
		t.Fatalf("backlog after a day offline: %d, %v; want over 10,000 records", backlog, err)
	}
	us, _ := st.UplinkState(t.Context())
	if !strings.Contains(us.LastError, "connection refused") {
		t.Errorf("UplinkState() = %+v, want the outage shown", us)
	}

	// The cloud is back; production goes on, 30 s at a time.
	cloud.mu.Lock()
	cloud.down = false
	cloud.mu.Unlock()
	end := outageEnd.Add(90 * time.Minute)
	simulate(t, st, u, clk, end, 30*time.Second, site)
	if n, _ := st.Outbox().PendingCount(t.Context()); n > 200 {
		t.Fatalf("%d records still pending 90 minutes after the outage, want the backlog drained", n)
	}

	cloud.mu.Lock()
	defer cloud.mu.Unlock()
	if len(cloud.resent) != 0 {
		t.Errorf("%d records resent, want none", len(cloud.resent))
	}
	// The backlog arrived oldest first.
	var last uint64
	var drained time.Time
	for _, r := range cloud.accepted {
		if !r.Time.Before(outageEnd.Add(-2 * time.Minute)) {
			continue // fresh when the cloud came back: sent ahead
		}
		if r.Seq < last {
			t.Fatalf("backlog record %d arrived after %d", r.Seq, last)
		}
		last = r.Seq
		if at := cloud.arrived[r.Seq]; at.After(drained) {
			drained = at
		}
	}
	t.Logf("backlog of %d records drained in %v", backlog, drained.Sub(outageEnd).Round(time.Minute))
	// The drain kept to the cap.
	ups, err := st.Uploads(t.Context(), 5000)
	if err != nil {
		t.Fatal(err)
	}
	var wire int
	for _, e := range ups {
		if e.At.After(outageEnd) && !e.At.After(drained) {
			wire += e.WireBytes
		}
	}
	if limit := rate*drained.Sub(outageEnd).Seconds() + 64<<10; float64(wire) > limit || drained.Sub(outageEnd) < 10*time.Minute {
		t.Errorf("the drain sent %d bytes in %v, cap %.0f", wire, drained.Sub(outageEnd), limit)
	}
	// Once the uploader's backoff let it find the cloud again, fresh status
	// arrived within 30 s all along, the drain included.
	back := end
	for _, at := range cloud.arrived {
		if at.Before(back) {
			back = at
		}
	}
	t.Logf("first upload %v after the cloud came back", back.Sub(outageEnd))
	if back.Sub(outageEnd) > 5*time.Minute {
		t.Errorf("first upload %v after the cloud came back, want within MaxBackoff", back.Sub(outageEnd))
	}
	var worst time.Duration
	statuses := 0
	for _, r := range cloud.accepted {
		if r.Kind != fleet.KindStatus || r.Time.Before(back) {
			continue
		}
		statuses++
		worst = max(worst, cloud.arrived[r.Seq].Sub(r.Time))
	}
	t.Logf("%d fresh statuses, the slowest took %v", statuses, worst)
	if statuses == 0 || worst > 30*time.Second {
		t.Errorf("fresh status took up to %v during the drain, want at most 30 s", worst)
	}
	// Every record produced reached the cloud once or is still pending.
	var produced int
	for at := t0; at.Before(end); at = at.Add(time.Minute) {
		produced += len(siteRecords(printers, at, time.Minute))
	}
	if got := len(cloud.accepted); got < produced-200 {
		t.Errorf("cloud holds %d records of about %d produced", got, produced)
	}
}

func TestBandwidthCapOverAnHour(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	// A backlog far larger than an hour's cap.
	for i := range 5 {
		if err := st.Outbox().Append(ctx, siteRecords(10, t0.Add(time.Duration(i)*time.Hour), time.Hour)...); err != nil {
			t.Fatal(err)
		}
	}
	start := t0.Add(12 * time.Hour)
	clk := clock.NewManual(start)
	const rate = 100.0
	u := NewUploader(st, &fakeCloud{clk: clk}, UploaderOptions{Clock: clk, RateBytes: rate, BurstBytes: 32 << 10})
	end := start.Add(time.Hour)
	simulate(t, st, u, clk, end, time.Minute, func(time.Time, time.Duration) []fleet.Record { return nil })
	ups, err := st.Uploads(ctx, 5000)
	if err != nil {
		t.Fatal(err)
	}
	var wire int
	for _, e := range ups {
		if e.At.Before(end) {
			wire += e.WireBytes
		}
	}
	limit := rate*3600 + 32<<10
	t.Logf("%d uploads, %d bytes on the wire in an hour; cap %.0f", len(ups), wire, limit)
	if float64(wire) > limit {
		t.Errorf("%d bytes in an hour, over the cap of %.0f", wire, limit)
	}
	if float64(wire) < 0.8*rate*3600 {
		t.Errorf("%d bytes in an hour: the drain left most of the cap unused", wire)
	}
	bw, err := st.Bandwidth(ctx, end)
	if err != nil {
		t.Fatal(err)
	}
	if bw.Hour <= 0 || bw.Hour > limit*8/3600 || bw.Average <= 0 {
		t.Errorf("Bandwidth() = %+v, want the hour's average under %.0f bit/s", bw, limit*8/3600)
	}
}

// BenchmarkSiteUplink runs a 10-printer site in continuous production for
// six simulated hours through the uploader and reports its bytes on the wire
// (TLS handshakes included) per printer-hour and as a share of the
// whitepaper's 25 kbit/s site budget.
func BenchmarkSiteUplink(b *testing.B) {
	for range b.N {
		st, err := Open(b.Context(), filepath.Join(b.TempDir(), "cc.db"))
		if err != nil {
			b.Fatal(err)
		}
		clk := clock.NewManual(t0)
		u := NewUploader(st, &fakeCloud{clk: clk}, UploaderOptions{Clock: clk, UploadLog: 100_000})
		const hours = 6
		simulate(b, st, u, clk, t0.Add(hours*time.Hour), 10*time.Second,
			func(now time.Time, dt time.Duration) []fleet.Record { return siteRecords(10, now, dt) })
		var wire, uploads int
		ups, err := st.Uploads(b.Context(), 100_000)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range ups {
			wire += e.WireBytes
			uploads++
		}
		st.Close()
		perPrinterHour := float64(wire) / 10 / hours
		bps := float64(wire) * 8 / (hours * 3600)
		b.ReportMetric(perPrinterHour, "bytes/printer-hour")
		b.ReportMetric(bps, "site-bit/s")
		b.ReportMetric(100*bps/25000, "%-of-25kbit/s")
		b.ReportMetric(float64(uploads)/hours, "uploads/h")
	}
}
