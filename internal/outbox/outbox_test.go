package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox/outboxtest"
	"github.com/fusionfleet/fusionfleet/internal/sitedb"
)

// These tests are the outbox's contract: what the uploader (through its
// Queue interface) and the collector (through AppendTx) rely on, checked on
// a real site database in a temporary directory.

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// openOutbox returns the outbox of a new site database and the file's path.
func openOutbox(t *testing.T) (*Outbox, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cc.db")
	return reopen(t, path), path
}

// reopen opens the outbox of the site database at path, closed when the
// test ends.
func reopen(t *testing.T, path string) *Outbox {
	t.Helper()
	db, err := sitedb.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return New(db, nil)
}

func gapRec(n uint64) fleet.Record { return outboxtest.Gap(n, t0) }

func pending(t *testing.T, ob *Outbox) []fleet.Record {
	t.Helper()
	recs, err := ob.Pending(t.Context(), 10000)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return recs
}

// appendN appends n gap records at once.
func appendN(t *testing.T, ob *Outbox, n int) {
	t.Helper()
	var recs []fleet.Record
	for i := range n {
		recs = append(recs, gapRec(uint64(i+1)))
	}
	if err := ob.Append(t.Context(), recs...); err != nil {
		t.Fatal(err)
	}
}

func TestLaneOf(t *testing.T) {
	tests := []struct {
		rec  fleet.Record
		want Lane
	}{
		{outboxtest.Event("printer-0001", fleet.SeverityCritical, t0), LaneAlert},
		{outboxtest.Event("printer-0001", fleet.SeverityWarning, t0), LaneAlert},
		{outboxtest.Event("printer-0001", fleet.SeverityInfo, t0), LaneBulk},
		{outboxtest.Status("printer-0001", t0), LaneStatus},
		{gapRec(1), LaneStatus},
		{outboxtest.Layer("printer-0001", 1, t0), LaneBulk},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.rec.Kind, tt.want), func(t *testing.T) {
			if got := LaneOf(tt.rec); got != tt.want {
				t.Errorf("LaneOf() = %v, want %v", got, tt.want)
			}
		})
	}
	if got := Lane(7).String(); got != "Lane(7)" {
		t.Errorf("Lane(7).String() = %q", got)
	}
	if _, err := Lane(7).MarshalText(); err == nil {
		t.Error("Lane(7).MarshalText() succeeded")
	}
}

// checkGapless checks that the outbox holds exactly the seqs 1..n.
func checkGapless(t *testing.T, ob *Outbox, n int) {
	t.Helper()
	got := outboxtest.Seqs(pending(t, ob))
	if len(got) != n {
		t.Fatalf("outbox holds %d records, want %d", len(got), n)
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("seq at %d = %d, want %d (unique and gapless)", i, s, i+1)
		}
	}
}

func TestGroupCommitUnderConcurrency(t *testing.T) {
	ob, path := openOutbox(t)
	const workers, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				recs := []fleet.Record{outboxtest.Layer("printer-0001", w*1000+i+1, t0)}
				if i%3 == 0 {
					recs = append(recs, outboxtest.Status("printer-0002", t0))
				}
				if err := ob.Append(t.Context(), recs...); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	want := workers * (each + (each+2)/3)
	// Durable: a fresh connection to the file sees every record.
	ob.db.Close()
	ob2 := reopen(t, path)
	checkGapless(t, ob2, want)
	// Every record reads back as it was appended.
	for _, r := range pending(t, ob2) {
		if r.Kind == fleet.KindLayer && (r.Layer == nil || r.Layer.Index < 1) {
			t.Fatalf("record %d read back wrong: %+v", r.Seq, r)
		}
	}
}

func TestGroupCommitIsolatesFailures(t *testing.T) {
	ob, _ := openOutbox(t)
	ctx := t.Context()
	if err := ob.SetBudget(ctx, 64<<10); err != nil {
		t.Fatal(err)
	}
	// One caller's append is larger than the whole budget; it fails alone
	// while other callers' appends in the same groups succeed.
	var huge []fleet.Record
	for i := range 400 {
		huge = append(huge, outboxtest.Layer("printer-0009", i+1, t0))
	}
	const workers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var hugeErrs, otherErrs []error
	for w := range workers {
		wg.Go(func() {
			for i := range 10 {
				if w == 0 && i%2 == 0 {
					err := ob.Append(ctx, huge...)
					mu.Lock()
					hugeErrs = append(hugeErrs, err)
					mu.Unlock()
					continue
				}
				if err := ob.Append(ctx, outboxtest.Status("printer-0001", t0)); err != nil {
					mu.Lock()
					otherErrs = append(otherErrs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(otherErrs) != 0 {
		t.Fatalf("small appends failed: %v", otherErrs)
	}
	for _, err := range hugeErrs {
		if !errors.Is(err, ErrFull) {
			t.Errorf("huge append error = %v, want ErrFull", err)
		}
	}
	checkGapless(t, ob, workers*10-5)
	if err := ob.Append(ctx, append(huge[:1:1], gapRec(1), outboxtest.Layer("bad id!", 1, t0))...); err == nil ||
		!strings.Contains(err.Error(), "record 3 of 3") {
		t.Errorf("Append with an invalid record: %v, want the record named", err)
	}
}

func TestDiskFullFailsCleanly(t *testing.T) {
	ob, _ := openOutbox(t)
	ctx := t.Context()
	if err := ob.Append(ctx, outboxtest.Status("printer-0001", t0)); err != nil {
		t.Fatal(err)
	}
	// One connection, so that the page limit applies to every statement:
	// the disk holding the database is full once the file has grown a
	// little.
	ob.db.SetMaxOpenConns(1)
	var pages int
	if err := ob.db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.db.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+2)); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		var recs []fleet.Record
		for j := range 200 {
			recs = append(recs, outboxtest.Layer("printer-0001", i*200+j+1, t0.Add(time.Duration(i)*time.Minute)))
		}
		err = ob.Append(ctx, recs...)
	}
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Append on a full disk: %v, want ErrDiskFull", err)
	}
	os, serr := ob.State(ctx)
	if serr != nil {
		t.Fatal(serr)
	}
	if !os.Health.Failing || !os.Health.DiskFull || !strings.Contains(os.Health.LastError, "disk is full") {
		t.Errorf("State().Health = %+v, want the full disk shown", os.Health)
	}
	var check string
	if err := ob.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v; want ok", check, err)
	}
	before := len(pending(t, ob))
	// Space again: appends resume, numbering where it left off.
	if _, err := ob.db.ExecContext(ctx, `PRAGMA max_page_count = 1000000`); err != nil {
		t.Fatal(err)
	}
	if err := ob.Append(ctx, outboxtest.Status("printer-0001", t0)); err != nil {
		t.Fatalf("Append after space was freed: %v", err)
	}
	checkGapless(t, ob, before+1)
	if os, _ := ob.State(ctx); os.Health != (Health{}) {
		t.Errorf("Health after recovery = %+v, want zero", os.Health)
	}
}

func TestDropPolicy(t *testing.T) {
	ob, _ := openOutbox(t)
	ctx := t.Context()
	const budget = 256 << 10
	if err := ob.SetBudget(ctx, budget); err != nil {
		t.Fatal(err)
	}
	// An alert first, then a long run of bulk and status records: the
	// budget is exceeded several times over.
	if err := ob.Append(ctx, outboxtest.Event("printer-0001", fleet.SeverityError, t0)); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		recs := []fleet.Record{outboxtest.Status("printer-0001", at)}
		for j := range 10 {
			recs = append(recs, outboxtest.Layer("printer-0001", i*10+j+1, at), outboxtest.Layer("printer-0002", i*10+j+1, at))
		}
		if err := ob.Append(ctx, recs...); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	os, err := ob.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if os.Bytes > budget || os.Budget != budget || os.DroppedRecords == 0 {
		t.Fatalf("State() = %+v, want within the budget of %d with records dropped", os, budget)
	}
	recs := pending(t, ob)
	kinds := map[fleet.Kind]int{}
	var gaps []fleet.Record
	for _, r := range recs {
		kinds[r.Kind]++
		if r.Kind == fleet.KindGap {
			gaps = append(gaps, r)
		}
	}
	// Bulk goes first: the alert and every status survive.
	if kinds[fleet.KindEvent] != 1 || kinds[fleet.KindStatus] != 100 {
		t.Errorf("kept %v, want the alert and all 100 statuses", kinds)
	}
	// Oldest first: the layers kept are the newest ones.
	var firstKeptLayer uint64
	for _, r := range recs {
		if r.Kind == fleet.KindLayer {
			firstKeptLayer = r.Seq
			break
		}
	}
	drops, err := ob.Drops(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var dropped int64
	for _, d := range drops {
		if d.Kind != fleet.KindLayer {
			t.Errorf("dropped %v, want only layers", d)
		}
		if d.LastSeq >= firstKeptLayer {
			t.Errorf("drop %+v reaches beyond the oldest layer kept, %d", d, firstKeptLayer)
		}
		dropped += int64(d.Records)
	}
	if dropped != os.DroppedRecords {
		t.Errorf("drops add up to %d, State says %d", dropped, os.DroppedRecords)
	}
	// The cloud learns of each drop, per printer.
	printers := map[fleet.PrinterID]bool{}
	for _, g := range gaps {
		if g.Gap.Feed != "outbox" || !strings.Contains(g.Gap.Reason, "layer") || g.Gap.FromSeq > g.Gap.ToSeq {
			t.Errorf("gap record %+v does not describe the drop", g.Gap)
		}
		printers[g.PrinterID] = true
	}
	if !printers["printer-0001"] || !printers["printer-0002"] {
		t.Errorf("gap records for %v, want both printers", printers)
	}

	t.Run("status goes when no bulk is left, alerts last", func(t *testing.T) {
		for i := range 150 {
			at := t0.Add(2*time.Hour + time.Duration(i)*time.Minute)
			var recs []fleet.Record
			for range 20 {
				recs = append(recs, outboxtest.Status("printer-0003", at))
			}
			if err := ob.Append(ctx, recs...); err != nil {
				t.Fatal(err)
			}
		}
		kinds := map[fleet.Kind]int{}
		for _, r := range pending(t, ob) {
			kinds[r.Kind]++
		}
		if kinds[fleet.KindLayer] != 0 || kinds[fleet.KindEvent] != 1 {
			t.Errorf("kept %v, want no layers left and the alert kept while statuses fill the budget", kinds)
		}
		if os, _ := ob.State(ctx); os.Bytes > budget {
			t.Errorf("outbox at %d bytes, budget %d", os.Bytes, budget)
		}
	})
	t.Run("budget errors", func(t *testing.T) {
		if err := ob.SetBudget(ctx, 10); err == nil {
			t.Error("SetBudget(10) succeeded")
		}
		if _, err := ob.db.ExecContext(ctx, `UPDATE meta SET value = 'x' WHERE key = 'outbox_budget'`); err != nil {
			t.Fatal(err)
		}
		if err := ob.Append(ctx, gapRec(1)); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("Append with a corrupt budget: %v", err)
		}
		if _, err := ob.State(ctx); err == nil {
			t.Error("State with a corrupt budget succeeded")
		}
	})
}

// TestDefaultBudget computes the disk a 10-printer site in
// continuous production fills in 7 days offline from real records, and
// checks the default budget holds it.
func TestDefaultBudget(t *testing.T) {
	at := t0
	pid := fleet.PrinterID("printer-0001")
	ph := fleet.Printhead{Slot: 1, Type: "fusing", UUID: "ph-6f1c0e2a9b3d4c5e", Status: "ok", PartNumber: "F9K08A",
		SerialNumber: "SN0123456789", AgentUsedCC: 1234.5, InstallDate: at, UsageHours: 812.4, RecoveryLevel: 2,
		WarrantyEnd: at, WarrantyStatus: "in warranty", ManufactureDate: at}
	cons := &fleet.Consumables{CleaningRoll: fleet.CleaningRoll{PartNumber: "F9K09A", Status: "ok", UsagePercent: 41.5}}
	for _, a := range []string{"fusing", "detailing", "cyan", "magenta", "yellow", "black"} {
		cons.Agents = append(cons.Agents, fleet.AgentSupply{Agent: a, UsedCC: 5123.4, BuildUnitInserts: 120, SupplyStatus: "ok", SupplyLevelPercent: 63.2})
	}
	for range 6 {
		cons.Printheads = append(cons.Printheads, ph)
	}
	counters := &fleet.Counters{TotalJobs: 1234, CompletedJobs: 1200, Layers: 4_500_000, Parts: 56000, PrintVolumeCM3: 1.2e6,
		PrintTimeSec: 9.9e6, AgentsConsumedML: map[string]float64{"fusing": 1e5, "detailing": 9e4}, MaterialConsumedKG: 5400,
		CoolingSystemHours: 5000, FilterStatusPercent: 40, LampUsageHours: 3000, Time: at}
	per := []struct {
		rec     fleet.Record
		perHour int
	}{
		{outboxtest.Layer(pid, 812, at), 400},
		{outboxtest.Status(pid, at), 60},
		{outboxtest.Event(pid, fleet.SeverityInfo, at), 20},
		{fleet.Record{Kind: fleet.KindCounters, PrinterID: pid, Time: at, Counters: counters}, 12},
		{fleet.Record{Kind: fleet.KindConsumables, PrinterID: pid, Time: at, Consumables: cons}, 12},
		{fleet.Record{Kind: fleet.KindPart, PrinterID: pid, Time: at, Part: &fleet.Part{ID: "p-0a1b2c3d4e5f6a7b",
			JobID: "j-7f3a9c1e2b4d6f80", CreatedAt: at, PrintStart: at, PrintEnd: at, VolumeCM3: 12.5, SurfaceCM2: 80.2,
			MaterialG: 13.1, Outcome: fleet.PartPass, CompletionDetails: "ok"}}, 20},
	}
	var perPrinterHour int64
	for _, p := range per {
		p.rec.Seq = 123_456_789
		b, err := json.Marshal(p.rec)
		if err != nil {
			t.Fatal(err)
		}
		perPrinterHour += int64(p.perHour * (len(b) + rowOverhead))
	}
	need := perPrinterHour * 10 * 24 * 7
	t.Logf("%d bytes per printer-hour; 10 printers for 7 days: %d MB; default budget %d MB",
		perPrinterHour, need>>20, DefaultBudget>>20)
	if need > DefaultBudget {
		t.Errorf("7 days of a 10-printer site need %d bytes, more than the default budget %d", need, DefaultBudget)
	}
}

func TestPendingExcludesQuarantined(t *testing.T) {
	ob, _ := openOutbox(t)
	ctx := t.Context()
	appendN(t, ob, 4)
	id, err := ob.SetAside(ctx, []uint64{2, 3}, "cloud answered 400", t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{1, 4}, outboxtest.Seqs(pending(t, ob))); diff != "" {
		t.Errorf("Pending with 2, 3 quarantined (-want +got):\n%s", diff)
	}
	qs, err := ob.Quarantined(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Quarantine{{ID: id, At: t0, Reason: "cloud answered 400", FirstSeq: 2, LastSeq: 3, Records: 2, Held: 2}}
	if diff := cmp.Diff(want, qs); diff != "" {
		t.Errorf("Quarantined() (-want +got):\n%s", diff)
	}
	if n, _ := ob.PendingCount(ctx); n != 2 {
		t.Errorf("PendingCount() = %d, want 2", n)
	}
	if err := ob.ReleaseQuarantine(ctx, id, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := ob.ReleaseQuarantine(ctx, id, t0.Add(time.Hour)); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("second release: %v, want ErrNotFound", err)
	}
	checkGapless(t, ob, 4)
	if err := ob.AckSeqs(ctx, []uint64{9}); err == nil || !strings.Contains(err.Error(), "never assigned") {
		t.Errorf("AckSeqs of an unassigned seq: %v", err)
	}
	if _, err := ob.Drops(ctx, 0); err == nil {
		t.Error("Drops(0) succeeded")
	}
}

func TestErrorsAfterClose(t *testing.T) {
	ob, _ := openOutbox(t)
	ob.db.Close()
	ctx := context.Background()
	for name, err := range map[string]error{
		"Append":            ob.Append(ctx, gapRec(1)),
		"ReleaseQuarantine": ob.ReleaseQuarantine(ctx, 1, t0),
		"SetBudget":         ob.SetBudget(ctx, 1<<20),
	} {
		if err == nil {
			t.Errorf("%s on a closed database succeeded", name)
		}
	}
	if _, err := ob.State(ctx); err == nil {
		t.Error("State on a closed database succeeded")
	}
	if _, err := ob.Quarantined(ctx); err == nil {
		t.Error("Quarantined on a closed database succeeded")
	}
	if _, err := ob.SetAside(ctx, []uint64{1}, "x", t0); err == nil {
		t.Error("SetAside on a closed database succeeded")
	}
}

func TestAppendPendingAck(t *testing.T) {
	ob, _ := openOutbox(t)
	ctx := t.Context()
	if err := ob.Append(ctx, gapRec(1), gapRec(2), gapRec(3)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := ob.Append(ctx); err != nil {
		t.Fatalf("Append(nothing): %v", err)
	}
	got, err := ob.Pending(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{1, 2}, outboxtest.Seqs(got)); diff != "" {
		t.Errorf("Pending(2) seqs (-want +got):\n%s", diff)
	}
	want := gapRec(1)
	want.Seq = 1
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("Pending()[0] (-want +got):\n%s", diff)
	}
	if err := ob.Ack(ctx, 2); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if diff := cmp.Diff([]uint64{3}, outboxtest.Seqs(pending(t, ob))); diff != "" {
		t.Errorf("Pending after Ack(2) (-want +got):\n%s", diff)
	}
	if n, err := ob.PendingCount(ctx); err != nil || n != 1 {
		t.Errorf("PendingCount() = %d, %v; want 1", n, err)
	}

	t.Run("ack of a seq never assigned", func(t *testing.T) {
		err := ob.Ack(ctx, 4)
		if err == nil || !strings.Contains(err.Error(), "never assigned") {
			t.Errorf("Ack(4) error = %v, want 'never assigned'", err)
		}
		if diff := cmp.Diff([]uint64{3}, outboxtest.Seqs(pending(t, ob))); diff != "" {
			t.Errorf("Pending after failed Ack (-want +got):\n%s", diff)
		}
	})
	t.Run("invalid limit", func(t *testing.T) {
		if _, err := ob.Pending(ctx, 0); err == nil {
			t.Error("Pending(0) succeeded")
		}
	})
	t.Run("invalid record stores nothing", func(t *testing.T) {
		bad := gapRec(9)
		bad.Gap = nil
		if err := ob.Append(ctx, gapRec(7), bad); err == nil {
			t.Fatal("Append of an invalid record succeeded")
		}
		if diff := cmp.Diff([]uint64{3}, outboxtest.Seqs(pending(t, ob))); diff != "" {
			t.Errorf("Pending after failed Append (-want +got):\n%s", diff)
		}
		// The failed append used no sequence numbers.
		if err := ob.Append(ctx, gapRec(8)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]uint64{3, 4}, outboxtest.Seqs(pending(t, ob))); diff != "" {
			t.Errorf("Pending after next Append (-want +got):\n%s", diff)
		}
	})
}

func TestSeqContinuesAfterAckAndReopen(t *testing.T) {
	ob, path := openOutbox(t)
	ctx := t.Context()
	if err := ob.Append(ctx, gapRec(1), gapRec(2)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Ack(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := ob.Append(ctx, gapRec(3)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Ack(ctx, 3); err != nil {
		t.Fatal(err)
	}
	ob.db.Close()

	ob2 := reopen(t, path)
	if err := ob2.Append(ctx, gapRec(4)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{4}, outboxtest.Seqs(pending(t, ob2))); diff != "" {
		t.Errorf("seq after ack of everything and reopen (-want +got):\n%s", diff)
	}
}

func TestConcurrentAppendGivesUniqueGaplessSeqs(t *testing.T) {
	ob, _ := openOutbox(t)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Alternate single and double appends.
				recs := []fleet.Record{gapRec(uint64(w*1000 + i))}
				if i%2 == 1 {
					recs = append(recs, gapRec(uint64(w*1000+i+500)))
				}
				if err := ob.Append(t.Context(), recs...); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	checkGapless(t, ob, workers*(each+each/2))
}

func TestCorruptOutboxRowGivesClearError(t *testing.T) {
	tests := []struct {
		name, record, want string
	}{
		{"not JSON", `{"seq":1,"kind":`, "outbox record 1 is corrupt"},
		{"wrong seq", `{"seq":7,"kind":"gap","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z","gap":{"feed":"events"}}`, "carries seq 7"},
		{"invalid record", `{"seq":1,"kind":"gap","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z"}`, "outbox record 1 is corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ob, _ := openOutbox(t)
			if err := ob.Append(t.Context(), gapRec(1)); err != nil {
				t.Fatal(err)
			}
			if _, err := ob.db.Exec(`UPDATE outbox SET record = ? WHERE seq = 1`, tt.record); err != nil {
				t.Fatal(err)
			}
			_, err := ob.Pending(t.Context(), 10)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Pending() error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(uint64(1), []byte(`{"seq":1,"kind":"gap","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z","gap":{"feed":"events"}}`))
	f.Add(uint64(2), []byte(`{"seq":2,"kind":"status","printer_id":"printer-0001","time":"2025-03-01T12:00:00Z","status":{"printer_id":"printer-0001","state":"idle","time":"2025-03-01T12:00:00Z"}}`))
	f.Add(uint64(1), []byte(`{"seq":1}`))
	f.Add(uint64(0), []byte(`null`))
	f.Fuzz(func(t *testing.T, seq uint64, b []byte) {
		r, err := decodeRecord(seq, b)
		if err != nil {
			if !strings.Contains(err.Error(), "is corrupt") {
				t.Errorf("error %q does not say the row is corrupt", err)
			}
			return
		}
		if r.Seq != seq {
			t.Fatalf("decoded seq %d from row %d", r.Seq, seq)
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("decoded an invalid record: %v", err)
		}
	})
}
