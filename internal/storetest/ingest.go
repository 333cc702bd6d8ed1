package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/google/go-cmp/cmp"
)

// Ingest applies the envelopes of gateways: each record once, whatever
// the order and however often it arrives.
// ApplyEnvelopes applies several envelopes in one transaction, in order,
// each as ApplyEnvelope would, and returns each one's count of new
// records and refusals; an error means none was applied.
type Ingest interface {
	ApplyEnvelope(ctx context.Context, env fleet.Envelope) (int, error)
	ApplyEnvelopes(ctx context.Context, envs []fleet.Envelope) (applied []int, rejected []error, err error)
}

// Placement knows where an organisation's printers are kept: their keys
// and their sites, and moves a printer between its organisation's sites.
type Placement interface {
	PrinterPlaces(ctx context.Context, org fleet.OrgID, devices []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, error)
	MovePrinter(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to fleet.SiteID) error
}

// IngestStore is what RunIngest drives: ingest, with organisations to
// send for and the fleet reads that show what was stored.
type IngestStore interface {
	Ingest
	Placement
	Orgs
	PrinterReads
	JobReads
	HistoryReads
	io.Closer
}

// RunIngest runs the ingest contract against stores made by open: the
// idempotent ingest of every record kind, newest report wins, printers
// identified within their organisation (another's printer of the same ID
// neither blocks nor is touched), a printer bound to its site until an
// administrator moves it, invalid records rejected for good and never
// remembered, a cancelled ingest retryable.
func RunIngest(t *testing.T, open func(t *testing.T) IngestStore) {
	runTests(t, open, []storeTest[IngestStore]{
		{"ApplyEnvelope", testApplyEnvelope},
		{"ApplyEnvelopeCrossOrg", testApplyCrossOrg},
		{"PrinterSiteBound", testPrinterSiteBound},
		{"FirstReportRace", testFirstReportRace},
		{"MovePrinter", testMovePrinter},
		{"ApplyEnvelopeRejects", testApplyRejects},
		{"ApplyEnvelopeCancelled", testApplyCancelled},
		{"AllKinds", testAllKinds},
		{"StatusFromTheFuture", testStatusFromTheFuture},
		{"LayersResentInPart", testLayersResentInPart},
		{"Closed", testIngestClosed},
		{"OrderIrrelevant", testApplyOrderIrrelevant},
		{"ManyPrintersInOneBatch", testApplyManyPrintersInOneBatch},
	})
}

func testApplyEnvelope(t *testing.T, db IngestStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	const p1, p2 = fleet.PrinterID("printer-0001"), fleet.PrinterID("printer-0002")
	e1 := Env(org, site, "gw_1",
		IdentityRecord(1, p1, "3DP 1", T0),
		StatusRecord(2, p1, fleet.StatePrinting, T0.Add(time.Second)),
		EventRecord(3, p1, "LAMP-1", T0.Add(2*time.Second)),
		StatusRecord(4, p2, fleet.StateCooling, T0.Add(3*time.Second)), // p2 unknown: created
	)
	apply(t, db, e1, 4)
	apply(t, db, e1, 0)
	// Overlapping: 3 and 4 again, 5 to 7 new; 5 is an older status of p1.
	apply(t, db, Env(org, site, "gw_1", e1.Records[2], e1.Records[3],
		StatusRecord(5, p1, fleet.StateIdle, T0.Add(-time.Minute)),
		EventRecord(6, p1, "LAMP-2", T0.Add(4*time.Second)),
		GapRecord(7, p1, T0),
	), 3)
	// The same seq from another gateway is another record.
	apply(t, db, Env(org, site, "gw_2", EventRecord(3, p1, "LAMP-3", T0.Add(5*time.Second))), 1)
	events, err := db.Events(ctx, org, p1, time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, e := range events {
		codes = append(codes, e.Code)
	}
	if diff := cmp.Diff([]string{"LAMP-3", "LAMP-2", "LAMP-1"}, codes); diff != "" {
		t.Errorf("event codes (-want +got):\n%s", diff)
	}
	got, err := db.Printers(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	want := []fleet.PrinterView{
		{ID: p2, SiteID: site, State: fleet.StateCooling, Activity: "cooling", JobID: "job12345", Progress: 0.5,
			ETCSeconds: 4980, PendingJobs: 2, StatusTime: T0.Add(3 * time.Second), LastSeen: T0.Add(3 * time.Second)},
		{ID: p1, Name: "3DP 1", Model: "Jet 4200", SiteID: site, State: fleet.StatePrinting, Activity: "printing",
			JobID: "job12345", Progress: 0.5, ETCSeconds: 4980, PendingJobs: 2, StatusTime: T0.Add(time.Second),
			LastSeen: T0.Add(5 * time.Second)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Printers (-want +got):\n%s", diff)
	}
	// A newer status replaces the stored one; an older identity does not
	// overwrite a newer one.
	apply(t, db, Env(org, site, "gw_1",
		StatusRecord(8, p1, fleet.StateIdle, T0.Add(time.Hour)),
		IdentityRecord(9, p1, "renamed by old record", T0.Add(-time.Hour)),
	), 2)
	got, err = db.Printers(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].State != fleet.StateIdle || got[1].Name != "3DP 1" {
		t.Errorf("after update: state %s name %q, want idle, 3DP 1", got[1].State, got[1].Name)
	}
	if det, err := db.PrinterDetail(ctx, org, p2); err != nil || det.DeviceID != p2 {
		t.Errorf("PrinterDetail: device ID %q, %v; want %q", det.DeviceID, err, p2)
	}
}

// testApplyCrossOrg: two organisations whose gateways report printers of
// the same ID each store and read their own printer, in either order;
// neither blocks, overwrites or sees the other's.
func testApplyCrossOrg(t *testing.T, db IngestStore) {
	ctx := t.Context()
	var p fleet.PrinterID
	all := func(org fleet.OrgID, site fleet.SiteID, gw fleet.GatewayID, name, job string, at time.Time) fleet.Envelope {
		return Env(org, site, gw,
			IdentityRecord(1, p, name, at),
			StatusRecord(2, p, fleet.StatePrinting, at),
			EventRecord(3, p, name+"-event", at),
			GapRecord(4, p, at),
			JobRecord(5, p, job, fleet.JobFailed, at, at),
			LayerRecord(6, p, job, 1, at),
			LogRecord(7, p, fleet.LogSession, name+"-log", at),
			CountersRecord(8, p, 1, at),
			PartRecord(9, p, job, "part-1", fleet.PartPass, at),
			ConsumablesRecord(10, p, 1, at),
		)
	}
	type tenantOf struct {
		org  fleet.OrgID
		site fleet.SiteID
		gw   fleet.GatewayID
		name string
		job  string
	}
	for i, order := range []string{"A first", "B first"} {
		t.Run(order, func(t *testing.T) {
			p = fleet.PrinterID(fmt.Sprintf("printer-%04d", i))
			orgA, siteA := tenant(t, db, "A "+order)
			orgB, siteB := tenant(t, db, "B "+order)
			a := tenantOf{orgA, siteA, fleet.GatewayID("gw_a " + order), "A's printer", "job-a"}
			b := tenantOf{orgB, siteB, fleet.GatewayID("gw_b " + order), "B's printer", "job-b"}
			first, second := a, b
			if order == "B first" {
				first, second = b, a
			}
			for _, x := range []tenantOf{first, second} {
				apply(t, db, all(x.org, x.site, x.gw, x.name, x.job, T0), 10)
			}
			// The first keeps the printer's ID as its key; the second
			// gets a key of its own.
			keys := map[fleet.OrgID]fleet.PrinterID{}
			for _, x := range []tenantOf{first, second} {
				places, err := db.PrinterPlaces(ctx, x.org, []fleet.PrinterID{p})
				if err != nil {
					t.Fatal(err)
				}
				pl, ok := places[p]
				if !ok || pl.SiteID != x.site || pl.Key == "" {
					t.Fatalf("PrinterPlaces(%s) = %v, want printer %s at %s", x.name, places, p, x.site)
				}
				keys[x.org] = pl.Key
			}
			if keys[first.org] != p || keys[second.org] == p {
				t.Errorf("keys: first %s, second %s; want %s and another", keys[first.org], keys[second.org], p)
			}
			if err := keys[second.org].Validate(); err != nil {
				t.Errorf("second key: %v", err)
			}
			for _, x := range []tenantOf{a, b} {
				key := keys[x.org]
				ps, err := db.Printers(ctx, x.org)
				if err != nil || len(ps) != 1 || ps[0].ID != key || ps[0].Name != x.name || ps[0].SiteID != x.site {
					t.Fatalf("Printers(%s) = %+v, %v; want only %s named %q", x.name, ps, err, key, x.name)
				}
				det, err := db.PrinterDetail(ctx, x.org, key)
				if err != nil || det.DeviceID != p || det.Identity == nil || det.Identity.Name != x.name ||
					det.Counters == nil || det.Consumables == nil {
					t.Errorf("PrinterDetail(%s) = %+v, %v; want its own, device %s", x.name, det, err, p)
				}
				events, err := db.Events(ctx, x.org, key, time.Time{}, time.Time{}, 0)
				if err != nil || len(events) != 1 || events[0].Code != x.name+"-event" {
					t.Errorf("Events(%s) = %+v, %v; want its own one", x.name, events, err)
				}
				jobs, err := db.Jobs(ctx, x.org, fleetquery.JobFilter{})
				if err != nil || len(jobs) != 1 || jobs[0].ID != x.job || jobs[0].PrinterID != key {
					t.Errorf("Jobs(%s) = %+v, %v; want its own one", x.name, jobs, err)
				}
				if l, err := db.JobLayers(ctx, x.org, key, x.job); err != nil || len(l) != 1 {
					t.Errorf("JobLayers(%s) = %d, %v; want 1", x.name, len(l), err)
				}
				if parts, err := db.JobParts(ctx, x.org, key, x.job); err != nil || len(parts) != 1 {
					t.Errorf("JobParts(%s) = %d, %v; want 1", x.name, len(parts), err)
				}
				logs, err := db.Logs(ctx, x.org, key, fleet.LogSession, time.Time{}, time.Time{}, 0)
				if err != nil || len(logs) != 1 || logs[0].Text != x.name+"-log" {
					t.Errorf("Logs(%s) = %+v, %v; want its own one", x.name, logs, err)
				}
				if c, err := db.CountersHistory(ctx, x.org, key, time.Time{}, time.Time{}); err != nil || len(c) != 1 {
					t.Errorf("CountersHistory(%s) = %d, %v; want 1", x.name, len(c), err)
				}
				// The other's key is not a printer of this organisation.
				other := keys[a.org]
				if x.org == a.org {
					other = keys[b.org]
				}
				if _, err := db.PrinterDetail(ctx, x.org, other); !errors.Is(err, fleet.ErrNotFound) {
					t.Errorf("PrinterDetail(%s, the other's key) = %v, want ErrNotFound", x.name, err)
				}
				if e, err := db.Events(ctx, x.org, other, time.Time{}, time.Time{}, 0); len(e) != 0 {
					t.Errorf("Events(%s, the other's key) = %+v, %v; want none", x.name, e, err)
				}
			}
			// Later records of either go to its own printer.
			apply(t, db, Env(second.org, second.site, second.gw, StatusRecord(11, p, fleet.StateError, T0.Add(time.Hour))), 1)
			for _, x := range []tenantOf{first, second} {
				det, err := db.PrinterDetail(ctx, x.org, keys[x.org])
				want := fleet.StatePrinting
				if x.org == second.org {
					want = fleet.StateError
				}
				if err != nil || det.View.State != want {
					t.Errorf("%s after the second's status: %s, %v; want %s", x.name, det.View.State, err, want)
				}
			}
		})
	}
}

// testPrinterSiteBound: a printer belongs to the site whose gateway first
// sent its records; another site's gateway of the organisation cannot
// pull it over (its records are refused with a reason), and a printer
// new to the organisation takes the site of its first records.
func testPrinterSiteBound(t *testing.T, db IngestStore) {
	ctx := t.Context()
	org, siteA := tenant(t, db, "Acme")
	siteB, err := db.CreateSite(ctx, org, "Second plant")
	if err != nil {
		t.Fatal(err)
	}
	const p, q = fleet.PrinterID("printer-aaaa"), fleet.PrinterID("printer-bbbb")
	apply(t, db, Env(org, siteA, "gw_a", IdentityRecord(1, p, "A's printer", T0), StatusRecord(2, p, fleet.StatePrinting, T0)), 2)
	before, err := db.PrinterDetail(ctx, org, p)
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.ApplyEnvelope(ctx, Env(org, siteB, "gw_b",
		StatusRecord(1, p, fleet.StateError, T0.Add(time.Hour)),
		EventRecord(2, p, "X", T0.Add(time.Hour)),
		LayerRecord(3, p, "job-b", 1, T0.Add(time.Hour)),
		StatusRecord(4, q, fleet.StateIdle, T0.Add(time.Hour)), // new to the org: B's
	))
	var rej *fleet.RejectedError
	if !errors.As(err, &rej) || len(rej.Errs) != 3 || n != 1 {
		t.Fatalf("ApplyEnvelope from site B = %d, %v; want 1 applied and 3 records refused", n, err)
	}
	if want := "printer " + string(p) + " belongs to site " + string(siteA) + "; an administrator can move it"; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to say %q", err, want)
	}
	after, err := db.PrinterDetail(ctx, org, p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("site A's printer changed by site B's gateway (-before +after):\n%s", diff)
	}
	if e, err := db.Events(ctx, org, p, time.Time{}, time.Time{}, 0); err != nil || len(e) != 0 {
		t.Errorf("events of A's printer = %+v, %v; want none", e, err)
	}
	places, err := db.PrinterPlaces(ctx, org, []fleet.PrinterID{p, q, "printer-cccc"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[fleet.PrinterID]fleet.PrinterPlace{p: {Key: p, SiteID: siteA}, q: {Key: q, SiteID: siteB}, "printer-cccc": {Key: "printer-cccc"}}
	if diff := cmp.Diff(want, places); diff != "" {
		t.Errorf("PrinterPlaces (-want +got):\n%s", diff)
	}
	// Resending reports the same refusal, and the refused records were
	// not remembered as received.
	if _, err := db.ApplyEnvelope(ctx, Env(org, siteB, "gw_b", StatusRecord(1, p, fleet.StateError, T0.Add(time.Hour)))); !errors.As(err, &rej) {
		t.Errorf("resend = %v, want a rejection", err)
	}
	// Once an administrator moved it, site B's records are its, and site
	// A's are refused.
	if err := db.MovePrinter(ctx, org, p, siteA, siteB); err != nil {
		t.Fatal(err)
	}
	apply(t, db, Env(org, siteB, "gw_b", StatusRecord(1, p, fleet.StateError, T0.Add(time.Hour))), 1)
	if _, err := db.ApplyEnvelope(ctx, Env(org, siteA, "gw_a", StatusRecord(3, p, fleet.StateIdle, T0.Add(2*time.Hour)))); !errors.As(err, &rej) {
		t.Errorf("site A's record after the move = %v, want a rejection", err)
	}
	det, err := db.PrinterDetail(ctx, org, p)
	if err != nil || det.View.SiteID != siteB || det.View.State != fleet.StateError {
		t.Errorf("after the move: site %s, state %s, %v; want %s, error", det.View.SiteID, det.View.State, err, siteB)
	}
}

// testFirstReportRace: gateways that report a printer new to the cloud
// at once each get their answer. Of two organisations, both store it (a
// writer may have to retry: an error, never a rejection); of two sites of
// one organisation, the first's gateway gets it and the other's records
// are refused.
func testFirstReportRace(t *testing.T, db IngestStore) {
	ctx := t.Context()
	orgA, siteA := tenant(t, db, "A")
	orgB, siteB := tenant(t, db, "B")
	siteA2, err := db.CreateSite(ctx, orgA, "A's second plant")
	if err != nil {
		t.Fatal(err)
	}
	// applyRetrying applies env as the SQL writer does: a retryable error
	// means redelivery.
	applyRetrying := func(env fleet.Envelope) error {
		for range 10 {
			_, err := db.ApplyEnvelope(ctx, env)
			if err == nil || errors.Is(err, fleet.ErrRejected) {
				return err
			}
		}
		return errors.New("still failing after 10 attempts")
	}
	for round := range 5 {
		p := fleet.PrinterID(fmt.Sprintf("printer-race-%d", round))
		envs := []fleet.Envelope{
			Env(orgA, siteA, "gw_a", StatusRecord(uint64(2*round+1), p, fleet.StatePrinting, T0)),
			Env(orgB, siteB, "gw_b", StatusRecord(uint64(2*round+1), p, fleet.StateIdle, T0)),
		}
		for i, err := range race(len(envs), func(i int) error { return applyRetrying(envs[i]) }) {
			if err != nil {
				t.Errorf("round %d, org %d: %v", round, i, err)
			}
		}
		for _, org := range []fleet.OrgID{orgA, orgB} {
			if places, err := db.PrinterPlaces(ctx, org, []fleet.PrinterID{p}); err != nil || places[p].SiteID == "" {
				t.Errorf("round %d: %s's printer = %v, %v; want it stored", round, org, places, err)
			}
		}
		q := fleet.PrinterID(fmt.Sprintf("printer-site-race-%d", round))
		envs = []fleet.Envelope{
			Env(orgA, siteA, "gw_a", StatusRecord(uint64(2*round+2), q, fleet.StatePrinting, T0)),
			Env(orgA, siteA2, "gw_a2", StatusRecord(uint64(2*round+2), q, fleet.StateIdle, T0)),
		}
		checkOneWins(t, race(len(envs), func(i int) error { return applyRetrying(envs[i]) }), fleet.ErrRejected)
	}
}

// testMovePrinter: only a printer of the organisation moves, only to a
// site of the organisation, and only from where it is.
func testMovePrinter(t *testing.T, db IngestStore) {
	ctx := t.Context()
	org, siteA := tenant(t, db, "Acme")
	siteB, err := db.CreateSite(ctx, org, "Second plant")
	if err != nil {
		t.Fatal(err)
	}
	orgX, siteX := tenant(t, db, "Other")
	const p = fleet.PrinterID("printer-aaaa")
	apply(t, db, Env(org, siteA, "gw_a", StatusRecord(1, p, fleet.StatePrinting, T0)), 1)
	apply(t, db, Env(orgX, siteX, "gw_x", StatusRecord(1, "printer-xxxx", fleet.StatePrinting, T0)), 1)
	checkErrs(t, []errCase{
		{"unknown printer", func() error { return db.MovePrinter(ctx, org, "printer-nnnn", siteA, siteB) }, fleet.ErrNotFound},
		{"another org's printer", func() error { return db.MovePrinter(ctx, org, "printer-xxxx", siteX, siteB) }, fleet.ErrNotFound},
		{"to another org's site", func() error { return db.MovePrinter(ctx, org, p, siteA, siteX) }, fleet.ErrNotFound},
		{"to an unknown site", func() error { return db.MovePrinter(ctx, org, p, siteA, "site_nnnn") }, fleet.ErrNotFound},
		{"by another org", func() error { return db.MovePrinter(ctx, orgX, p, siteA, siteX) }, fleet.ErrNotFound},
		{"not from where it is", func() error { return db.MovePrinter(ctx, org, p, siteB, siteA) }, fleet.ErrConflict},
	})
	if err := db.MovePrinter(ctx, org, p, siteA, siteA); err != nil {
		t.Errorf("MovePrinter to where it is = %v, want nil", err)
	}
	if err := db.MovePrinter(ctx, org, p, siteA, siteB); err != nil {
		t.Fatal(err)
	}
	// The old site's gateway may no longer write the printer, whatever
	// the writer remembers of it; the new site's may.
	if n, err := db.ApplyEnvelope(ctx, Env(org, siteA, "gw_a", StatusRecord(2, p, fleet.StateIdle, T0.Add(time.Minute)))); n != 0 || !errors.Is(err, fleet.ErrRejected) {
		t.Errorf("record from the old site after the move: ApplyEnvelope = %d, %v; want 0, rejected", n, err)
	}
	apply(t, db, Env(org, siteB, "gw_b", StatusRecord(1, p, fleet.StateCooling, T0.Add(2*time.Minute))), 1)
	for _, tt := range []struct {
		org  fleet.OrgID
		p    fleet.PrinterID
		site fleet.SiteID
	}{{org, p, siteB}, {orgX, "printer-xxxx", siteX}} {
		if det, err := db.PrinterDetail(ctx, tt.org, tt.p); err != nil || det.View.SiteID != tt.site {
			t.Errorf("%s: site %s, %v; want %s", tt.p, det.View.SiteID, err, tt.site)
		}
	}
}

func testApplyRejects(t *testing.T, db IngestStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "A")
	orgB, _ := tenant(t, db, "B")
	const p = fleet.PrinterID("printer-aaaa")
	bad := StatusRecord(1, p, fleet.StatePrinting, T0)
	bad.Status.Progress = 2
	bigEvent := EventRecord(3, p, "X", T0)
	bigEvent.Event.Seq = 1 << 63
	bigGap := GapRecord(4, p, T0)
	bigGap.Gap.ToSeq = 1 << 63
	bigLayer := LayerRecord(5, p, "job-1", 1, T0)
	bigLayer.Layer.Seq = 1 << 63
	badLayer := LayerRecord(6, p, "job-1", 0, T0)
	bigLog := LogRecord(7, p, fleet.LogSession, "x", T0)
	bigLog.Log.Seq = 1 << 63
	badJob := JobRecord(8, p, "job 1", fleet.JobQueued, T0, T0)
	tests := []struct {
		name string
		env  fleet.Envelope
	}{
		{"no org", Env("", site, "gw", StatusRecord(1, p, fleet.StateIdle, T0))},
		{"no gateway", Env(org, site, "", StatusRecord(1, p, fleet.StateIdle, T0))},
		{"site of another org", Env(orgB, site, "gw", StatusRecord(1, p, fleet.StateIdle, T0))},
		{"unknown site", Env(org, "site_x", "gw", StatusRecord(1, p, fleet.StateIdle, T0))},
		{"invalid record", Env(org, site, "gw", bad)},
		{"seq too large", Env(org, site, "gw", StatusRecord(1<<63, p, fleet.StateIdle, T0))},
		{"event seq too large", Env(org, site, "gw", bigEvent)},
		{"gap bounds too large", Env(org, site, "gw", bigGap)},
		{"layer seq too large", Env(org, site, "gw", bigLayer)},
		{"invalid layer", Env(org, site, "gw", badLayer)},
		{"log seq too large", Env(org, site, "gw", bigLog)},
		{"invalid job", Env(org, site, "gw", badJob)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := db.ApplyEnvelope(ctx, tt.env)
			var rej *fleet.RejectedError
			if !errors.As(err, &rej) {
				t.Fatalf("err = %v, want *fleet.RejectedError", err)
			}
			if !errors.Is(err, fleet.ErrRejected) {
				t.Errorf("err = %v does not match fleet.ErrRejected", err)
			}
			if n != 0 {
				t.Errorf("applied = %d, want 0", n)
			}
		})
	}
	if got, err := db.Printers(ctx, org); err != nil || len(got) != 0 {
		t.Errorf("printers after rejected envelopes = %v, %v; want none", got, err)
	}
	// Nothing of the rejected records was remembered as received.
	apply(t, db, Env(org, site, "gw", StatusRecord(1, p, fleet.StateIdle, T0), EventRecord(3, p, "X", T0),
		LayerRecord(5, p, "job-1", 1, T0), LogRecord(7, p, fleet.LogSession, "x", T0)), 4)
}

func testApplyCancelled(t *testing.T, db IngestStore) {
	org, site := tenant(t, db, "A")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, rec := range []fleet.Record{StatusRecord(1, "printer-aaaa", fleet.StateIdle, T0), LayerRecord(2, "printer-aaaa", "job-1", 1, T0)} {
		_, err := db.ApplyEnvelope(ctx, Env(org, site, "gw", rec))
		if err == nil || errors.Is(err, fleet.ErrRejected) {
			t.Errorf("%s: err = %v, want a retryable error", rec.Kind, err)
		}
	}
	// Nothing was written: the records apply now.
	apply(t, db, Env(org, site, "gw", StatusRecord(1, "printer-aaaa", fleet.StateIdle, T0),
		LayerRecord(2, "printer-aaaa", "job-1", 1, T0)), 2)
}

// testStatusFromTheFuture: a status dated in the year 2200 (a wrong
// clock) does not freeze the printer's status and last_seen; the
// gateway's later reports replace it. A report from another gateway is
// still ordered by time.
func testStatusFromTheFuture(t *testing.T, db IngestStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	const p = fleet.PrinterID("printer-0001")
	future := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	apply(t, db, Env(org, site, "gw",
		StatusRecord(1, p, fleet.StatePrinting, T0),
		StatusRecord(2, p, fleet.StateError, future),
	), 2)
	apply(t, db, Env(org, site, "gw", StatusRecord(3, p, fleet.StateIdle, T0.Add(time.Minute))), 1)
	want := fleet.PrinterView{ID: p, SiteID: site, State: fleet.StateIdle, Activity: "idle", JobID: "job12345",
		Progress: 0.5, ETCSeconds: 4980, PendingJobs: 2, StatusTime: T0.Add(time.Minute), LastSeen: T0.Add(time.Minute)}
	det, err := db.PrinterDetail(ctx, org, p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, det.View); diff != "" {
		t.Errorf("after a status from the future and a real one (-want +got):\n%s", diff)
	}
	// An older report of another gateway does not replace it.
	apply(t, db, Env(org, site, "gw_2", StatusRecord(1, p, fleet.StateError, T0)), 1)
	if det, err = db.PrinterDetail(ctx, org, p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, det.View); diff != "" {
		t.Errorf("after an older status of another gateway (-want +got):\n%s", diff)
	}
}

func testAllKinds(t *testing.T, db IngestStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	const p = fleet.PrinterID("printer-0001")
	job := JobRecord(2, p, "job-1", fleet.JobPrinting, T0, T0)
	part := PartRecord(3, p, "job-1", "part-1", fleet.PartPending, T0)
	var layers []fleet.Record
	for i := 3; i >= 1; i-- { // out of order on purpose
		layers = append(layers, LayerRecord(uint64(10+i), p, "job-1", i, T0.Add(time.Duration(i)*10*time.Second)))
	}
	e := Env(org, site, "gw", append([]fleet.Record{
		IdentityRecord(1, p, "3DP 1", T0), job, part,
		CountersRecord(4, p, 10, T0), CountersRecord(5, p, 11, T0.Add(time.Hour)),
		ConsumablesRecord(6, p, 40, T0), ConsumablesRecord(7, p, 41, T0.Add(time.Hour)),
		LogRecord(8, p, fleet.LogSession, "session opened", T0),
		LogRecord(9, p, fleet.LogPrinthead, "printhead 1 ok", T0.Add(time.Second)),
		GapRecord(10, p, T0),
	}, layers...)...)
	apply(t, db, e, 13)
	apply(t, db, e, 0)
	// Newest job and part report wins, whatever the order of arrival.
	done := JobRecord(20, p, "job-1", fleet.JobCompleted, T0, T0.Add(2*time.Hour))
	stale := JobRecord(21, p, "job-1", fleet.JobFailed, T0, T0.Add(time.Minute))
	passed := PartRecord(22, p, "job-1", "part-1", fleet.PartPass, T0.Add(2*time.Hour))
	staleP := PartRecord(23, p, "job-1", "part-1", fleet.PartWarp, T0.Add(time.Minute))
	oldCounters := CountersRecord(24, p, 9, T0.Add(-time.Hour))
	apply(t, db, Env(org, site, "gw", done, stale, passed, staleP, oldCounters), 5)

	jobs, err := db.Jobs(ctx, org, fleetquery.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleetquery.PrinterJob{{PrinterID: p, Job: *done.Job}}, jobs); diff != "" {
		t.Errorf("Jobs (-want +got):\n%s", diff)
	}
	parts, err := db.JobParts(ctx, org, p, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.Part{*passed.Part}, parts); diff != "" {
		t.Errorf("JobParts (-want +got):\n%s", diff)
	}
	gotLayers, err := db.JobLayers(ctx, org, p, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	wantLayers := []fleet.Layer{*layers[2].Layer, *layers[1].Layer, *layers[0].Layer}
	if diff := cmp.Diff(wantLayers, gotLayers); diff != "" {
		t.Errorf("JobLayers (-want +got):\n%s", diff)
	}
	if l, err := db.JobLayers(ctx, org, p, "job-unknown"); err != nil || len(l) != 0 {
		t.Errorf("layers of unknown job = %v, %v; want none", l, err)
	}

	det, err := db.PrinterDetail(ctx, org, p)
	if err != nil {
		t.Fatal(err)
	}
	wantDet := fleetquery.PrinterDetail{
		View:     fleet.PrinterView{ID: p, Name: "3DP 1", Model: "Jet 4200", SiteID: site, LastSeen: T0.Add(2 * time.Hour)},
		DeviceID: p, Identity: e.Records[0].Identity, Counters: e.Records[4].Counters, Consumables: e.Records[6].Consumables,
	}
	if diff := cmp.Diff(wantDet, det); diff != "" {
		t.Errorf("PrinterDetail (-want +got):\n%s", diff)
	}

	counters, err := db.CountersHistory(ctx, org, p, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.Counters{*oldCounters.Counters, *e.Records[3].Counters, *e.Records[4].Counters}, counters); diff != "" {
		t.Errorf("CountersHistory (-want +got):\n%s", diff)
	}
	cons, err := db.ConsumablesHistory(ctx, org, p, T0.Add(time.Minute), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.Consumables{*e.Records[6].Consumables}, cons); diff != "" {
		t.Errorf("ConsumablesHistory from T0+1m (-want +got):\n%s", diff)
	}
	cons, err = db.ConsumablesHistory(ctx, org, p, time.Time{}, T0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.Consumables{*e.Records[5].Consumables}, cons); diff != "" {
		t.Errorf("ConsumablesHistory to T0+1h (-want +got):\n%s", diff)
	}

	logs, err := db.Logs(ctx, org, p, fleet.LogPrinthead, time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.LogLine{*e.Records[8].Log}, logs); diff != "" {
		t.Errorf("Logs (-want +got):\n%s", diff)
	}
}

// testLayersResentInPart: a batch of layers of which some arrived before
// (a resend after a lost acknowledgement, grown by new layers) adds only
// the new ones, whatever fast path a store takes for fresh layers.
func testLayersResentInPart(t *testing.T, db IngestStore) {
	org, site := tenant(t, db, "Layers Inc")
	const p fleet.PrinterID = "printer-0001"
	layers := func(from, to int) []fleet.Record {
		var out []fleet.Record
		for i := from; i <= to; i++ {
			out = append(out, LayerRecord(uint64(100+i), p, "job-1", i, T0.Add(time.Duration(i)*10*time.Second)))
		}
		return out
	}
	apply(t, db, Env(org, site, "gw", layers(1, 3)...), 3)
	apply(t, db, Env(org, site, "gw", layers(2, 6)...), 3)
	apply(t, db, Env(org, site, "gw", layers(1, 6)...), 0)
	got, err := db.JobLayers(t.Context(), org, p, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("%d layers stored, want 6", len(got))
	}
	for i, l := range got {
		if l.Index != i+1 {
			t.Errorf("layer %d has index %d", i, l.Index)
		}
	}
}

// testIngestClosed: a closed store fails an envelope with an error that
// leaves it to be sent again, not rejected for good.
func testIngestClosed(t *testing.T, db IngestStore) {
	org, site := tenant(t, db, "A")
	checkClosed(t, db, []closedCall{
		{"ApplyEnvelope", func() error {
			_, err := db.ApplyEnvelope(t.Context(), Env(org, site, "gw", StatusRecord(1, "printer-aaaa", fleet.StateIdle, T0)))
			return err
		}},
	})
}
