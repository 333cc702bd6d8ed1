package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/retention"
)

// Housekeeping prunes what is past its retention, answers whether the
// store is reachable, and closes it.
type Housekeeping interface {
	Prune(ctx context.Context, now time.Time, r retention.Retention) (map[string]int64, error)
	PruneLogins(ctx context.Context, now time.Time, r retention.Retention) (map[string]int64, error)
	Ping(ctx context.Context) error
	Close() error
}

// HousekeepingStore is what RunHousekeeping drives: housekeeping, with
// organisations and ingest to fill the store and the fleet reads that
// show what a prune kept.
type HousekeepingStore interface {
	Housekeeping
	Orgs
	Ingest
	PrinterReads
	JobReads
	HistoryReads
	LoginThrottle
	Accounts
	Sessions
	LoginChallenges
}

// RunHousekeeping runs the housekeeping contract against stores made by
// open: retention keeps the latest snapshots and forgets old records so
// that they apply again, and a closed store fails.
func RunHousekeeping(t *testing.T, open func(t *testing.T) HousekeepingStore) {
	runTests(t, open, []storeTest[HousekeepingStore]{
		{"Prune", testPrune},
		{"PruneLoginFailures", testPruneLoginFailures},
		{"PruneLogins", testPruneLogins},
		{"Closed", testHousekeepingClosed},
	})
}

func testPrune(t *testing.T, db HousekeepingStore) {
	ctx := t.Context()
	org, site := tenant(t, db, "A")
	const p = fleet.PrinterID("printer-aaaa")
	now := T0
	old := now.AddDate(-6, 0, 0) // older than every retention
	recent := now.Add(-24 * time.Hour)
	apply(t, db, Env(org, site, "gw",
		StatusRecord(1, p, fleet.StateIdle, old),
		JobRecord(2, p, "job-old", fleet.JobCompleted, old, old),
		JobRecord(3, p, "job-new", fleet.JobCompleted, recent, recent),
		LayerRecord(4, p, "job-old", 1, old), LayerRecord(5, p, "job-new", 1, recent),
		LogRecord(6, p, fleet.LogSession, "old", old), LogRecord(7, p, fleet.LogSession, "new", recent),
		EventRecord(8, p, "OLD", old), EventRecord(9, p, "NEW", recent),
		CountersRecord(10, p, 1, old), CountersRecord(11, p, 2, recent),
		ConsumablesRecord(12, p, 1, old), ConsumablesRecord(13, p, 2, recent),
		StatusRecord(14, p, fleet.StateIdle, now.Add(-30*24*time.Hour)), // within MinReceived
		PartRecord(15, p, "job-old", "part-old", fleet.PartPass, old),
	), 15)
	// A short Received is raised to the minimum: record 14 stays known.
	removed, err := db.Prune(ctx, now, retention.Retention{Received: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if removed["received"] < 1 {
		t.Errorf("removed = %v, want received rows pruned", removed)
	}
	jobs, err := db.Jobs(ctx, org, fleetquery.JobFilter{})
	if err != nil || len(jobs) != 1 || jobs[0].ID != "job-new" {
		t.Errorf("jobs after prune = %v, %v; want job-new only", jobs, err)
	}
	counts := []struct {
		name string
		fn   func() (int, error)
		want int
	}{
		{"old layers", func() (int, error) { l, err := db.JobLayers(ctx, org, p, "job-old"); return len(l), err }, 0},
		{"new layers", func() (int, error) { l, err := db.JobLayers(ctx, org, p, "job-new"); return len(l), err }, 1},
		{"old parts", func() (int, error) { l, err := db.JobParts(ctx, org, p, "job-old"); return len(l), err }, 0},
		{"logs", func() (int, error) {
			l, err := db.Logs(ctx, org, p, fleet.LogSession, time.Time{}, time.Time{}, 0)
			return len(l), err
		}, 1},
		{"events", func() (int, error) { l, err := db.Events(ctx, org, p, time.Time{}, time.Time{}, 0); return len(l), err }, 1},
		{"counters", func() (int, error) {
			l, err := db.CountersHistory(ctx, org, p, time.Time{}, time.Time{})
			return len(l), err
		}, 1},
		{"consumables", func() (int, error) {
			l, err := db.ConsumablesHistory(ctx, org, p, time.Time{}, time.Time{})
			return len(l), err
		}, 1},
	}
	for _, c := range counts {
		if got, err := c.fn(); err != nil || got != c.want {
			t.Errorf("%s after prune = %d, %v; want %d", c.name, got, err, c.want)
		}
	}
	// The latest snapshots and the printer survive.
	det, err := db.PrinterDetail(ctx, org, p)
	if err != nil || det.Counters == nil || det.Counters.TotalJobs != 2 {
		t.Errorf("detail after prune = %+v, %v; want the latest counters", det, err)
	}
	// Record 14 is still known; record 1 was forgotten and applies again.
	apply(t, db, Env(org, site, "gw", StatusRecord(14, p, fleet.StateIdle, now.Add(-30*24*time.Hour))), 0)
	apply(t, db, Env(org, site, "gw", StatusRecord(1, p, fleet.StateIdle, old)), 1)
	// Pruning again finds nothing more.
	removed, err = db.Prune(ctx, now, retention.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	for kind, n := range removed {
		if n != 0 && kind != "received" {
			t.Errorf("second prune removed %d %s", n, kind)
		}
	}
}

// testPruneLoginFailures: counts of failed logins go a day after their
// last failure; a count that still locks stays.
func testPruneLoginFailures(t *testing.T, db HousekeepingStore) {
	now := T0
	fail(t, db, "old", "192.0.2.1", now.Add(-25*time.Hour), 1)
	fail(t, db, "new", "192.0.2.1", now.Add(-10*time.Second), 6) // locked 30s
	removed, err := db.Prune(t.Context(), now, retention.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	if got := removed["login_failures"]; got != 0 {
		t.Errorf("Prune, on the fleet's clock, removed %d login_failures rows; they live on the logins' clock", got)
	}
	removed, err = db.PruneLogins(t.Context(), now, retention.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	if got := removed["login_failures"]; got != 2 {
		t.Errorf("removed %d login_failures rows, want 2 (the old name's pair and name counts)", got)
	}
	if !lockedAt(t, db, "new", "192.0.2.1", now) {
		t.Error("pruning lifted a lock")
	}
}

// testPruneLogins: expired sessions and login challenges go, live ones
// stay and still log in.
func testPruneLogins(t *testing.T, db HousekeepingStore) {
	ctx := t.Context()
	org, _ := tenant(t, db, "Acme")
	uid, err := db.CreateUser(ctx, org, "ann", "h", fleet.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		hash    string
		expires time.Time
	}{{"s-old", T0.Add(-time.Second)}, {"s-now", T0}, {"s-live", T0.Add(time.Hour)}} {
		if err := db.CreateSession(ctx, s.hash, uid, s.expires); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateLoginChallenge(ctx, "c-old", uid, T0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateLoginChallenge(ctx, "c-live", uid, T0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	removed, err := db.PruneLogins(ctx, T0, retention.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	if removed["sessions"] != 1 || removed["login_challenges"] != 1 {
		t.Errorf("removed %v, want 1 session and 1 challenge", removed)
	}
	if _, err := db.SessionUser(ctx, "s-live", T0); err != nil {
		t.Errorf("live session after prune: %v", err)
	}
	if _, err := db.LoginChallengeUser(ctx, "c-live", T0); err != nil {
		t.Errorf("live challenge after prune: %v", err)
	}
	if _, err := db.SessionUser(ctx, "s-old", T0.Add(-time.Hour)); err == nil {
		t.Error("an expired session survived the prune")
	}
}

// testHousekeepingClosed: an open store answers Ping; a closed one fails
// Ping and Prune.
func testHousekeepingClosed(t *testing.T, db HousekeepingStore) {
	ctx := t.Context()
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping of an open store: %v", err)
	}
	checkClosed(t, db, []closedCall{
		{"Ping", func() error { return db.Ping(ctx) }},
		{"Prune", func() error { _, err := db.Prune(ctx, T0, retention.Retention{}); return err }},
		{"PruneLogins", func() error { _, err := db.PruneLogins(ctx, T0, retention.Retention{}); return err }},
	})
}
