package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
	"github.com/fusionfleet/fusionfleet/internal/learn"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// schemaTables lists the store's tables, without PostgreSQL's partitions
// (their rows are their parent's).
func schemaTables(t *testing.T, db *DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if db.dialect.kind == postgres {
		q = `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`
	}
	rows, err := db.db.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// TestOrgTablesCoverSchema: every table of the schema is placed in
// orgTables — exported, left out of the export for a stated reason, or of
// no organisation — so that a new table of an organisation's data cannot
// be forgotten by the export and the deletion.
func TestOrgTablesCoverSchema(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		db := openDSN(t, dsn(t))
		tables := schemaTables(t, db)
		var placed []string
		for _, ot := range orgTables {
			placed = append(placed, ot.name)
			if !slices.Contains(tables, ot.name) {
				t.Errorf("orgTables places %s, which the schema lacks", ot.name)
			}
			if ot.skip != "" && ot.where == "" {
				t.Errorf("%s: left out of the export but deleted by no condition", ot.name)
			}
		}
		for _, tb := range tables {
			if !slices.Contains(placed, tb) {
				t.Errorf("table %s is not in orgTables: export it with its organisation's condition, or leave it out with a reason", tb)
			}
		}
	})
}

// orgFill is what fillOrg made: the IDs that must vanish with the
// organisation.
type orgFill struct {
	org      fleet.OrgID
	canaries []string
}

// fillOrg gives a new organisation data in as many tables as the store
// has: sites, members with sessions, two-factor secrets and failed logins,
// API tokens, a gateway, printers with every kind of record, alerts,
// rules, channels, preferences, audit entries and a plan.
func fillOrg(t *testing.T, db *DB, name string, seed bool) orgFill {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	org, site := tenant(t, db, name)
	f := orgFill{org: org, canaries: []string{string(org), string(site)}}
	if seed {
		storetest.SeedPagesOrg(t, db, org)
	}
	user, err := db.CreateMember(ctx, org, name+"-user", "hash", fleet.RoleAdmin, access.OnlySites(site))
	must(err)
	f.canaries = append(f.canaries, string(user), name+"-user")
	must(db.SetPrefs(ctx, org, user, fleet.Prefs{Lang: "de", TimeZone: "Europe/Berlin"}))
	must(db.CreateSession(ctx, identity.HashToken(name+"-session"), user, storetest.T0.Add(time.Hour)))
	must(db.CreateLoginChallenge(ctx, identity.HashToken(name+"-challenge"), user, storetest.T0.Add(time.Hour)))
	must(db.SetPendingTOTP(ctx, user, "JBSWY3DPEHPK3PXP"))
	must(db.EnableTOTP(ctx, user, 1, []string{identity.HashToken(name + "-recovery")}))
	must(db.LoginFailed(ctx, name+"-user", "192.0.2.1", storetest.T0))
	tok, err := db.CreateAPIToken(ctx, access.Token{OrgID: org, UserID: user, Name: "t", Scope: access.ScopeRead,
		Sites: access.OnlySites(site), Created: storetest.T0, Expires: storetest.T0.AddDate(1, 0, 0)}, identity.HashToken(name+"-api"))
	must(err)
	f.canaries = append(f.canaries, string(tok))
	must(db.CreateEnrolmentToken(ctx, site, identity.HashToken(name+"-enrol"), storetest.T0.Add(time.Hour)))
	pub, _, err := ed25519.GenerateKey(nil)
	must(err)
	gw, err := db.Enrol(ctx, identity.HashToken(name+"-enrol"), name+" gateway", pub, storetest.T0)
	must(err)
	must(db.CreateEnrolmentToken(ctx, site, identity.HashToken(name+"-enrol-2"), storetest.T0.Add(time.Hour)))
	f.canaries = append(f.canaries, string(gw.ID))
	p := fleet.PrinterID("printer-" + strings.ToLower(name))
	f.canaries = append(f.canaries, string(p))
	day := storetest.T0.Add(-48 * time.Hour)
	recs := []fleet.Record{
		storetest.IdentityRecord(1, p, name+" printer", day), storetest.StatusRecord(2, p, fleet.StatePrinting, day),
		storetest.JobRecord(3, p, name+"-job", fleet.JobCompleted, day, day.Add(time.Hour)),
		storetest.PartRecord(4, p, name+"-job", "part-1", fleet.PartPass, day.Add(time.Hour)),
		storetest.LayerRecord(5, p, name+"-job", 1, day.Add(time.Minute)), storetest.LogRecord(6, p, fleet.LogSession, "started", day),
		storetest.EventRecord(7, p, "LAMP", day), storetest.CountersRecord(8, p, 1, day), storetest.ConsumablesRecord(9, p, 0.5, day),
		storetest.GapRecord(10, p, day),
	}
	_, err = db.ApplyEnvelope(ctx, storetest.Env(org, site, gw.ID, recs...))
	must(err)
	alertID, err := fleet.NewID("alr_")
	must(err)
	must(db.SaveAlert(ctx, alert.State{Alert: fleet.Alert{ID: fleet.AlertID(alertID), OrgID: org, SiteID: site, PrinterID: p,
		Rule: "lamp", Severity: fleet.SeverityWarning, Title: "Lamp", Opened: day, Updated: day, Revision: 1}, Seen: day}, 0))
	must(db.Record(ctx, audit.Event{Time: day, Org: org, ActorOrg: org, Actor: user, Name: name + "-user", Action: "login"}))
	must(db.SetOrgFeatures(ctx, org, access.FeatureExport))
	// The fleet-wide proposal both organisations approve, each for itself.
	if err := db.SaveLearnModel(ctx, learn.StoredModel{Promoted: true, Model: learn.Model{Version: 1, TrainedAt: day}}); err != nil && !errors.Is(err, fleet.ErrConflict) {
		t.Fatal(err)
	}
	if err := db.SaveLearnProposal(ctx, learn.SetProposal{ID: "v1-FF-4200", ModelVersion: 1, PrinterModel: "FF-4200", Created: day,
		Set: fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "learned-FF-4200-v1", Model: "FF-4200",
			Materials: map[string]fleet.MaterialParameters{"PA12": {PrintMode: "robust"}}}}); err != nil && !errors.Is(err, fleet.ErrConflict) {
		t.Fatal(err)
	}
	_, err = db.ApproveLearnProposal(ctx, org, "v1-FF-4200", fleet.User{ID: user, OrgID: org, Name: name + "-approver"}, day)
	must(err)
	f.canaries = append(f.canaries, name+"-approver")
	members, err := db.Members(ctx, org)
	must(err)
	for _, m := range members {
		f.canaries = append(f.canaries, string(m.ID), strings.ToLower(m.Name))
	}
	return f
}

// dumpRows returns every row of every table as text, by table.
func dumpRows(t *testing.T, db *DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tb := range schemaTables(t, db) {
		rows, err := db.db.QueryContext(t.Context(), `SELECT * FROM `+tb)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, v := range vals {
				fmt.Fprintf(&b, "%v\x00", plain(v))
			}
			out[tb] = append(out[tb], b.String())
		}
		rows.Close()
	}
	return out
}

// TestDeleteOrg fills two organisations, deletes one and finds no row
// that names it, its sites, printers, users, tokens or gateways, while the
// other's rows are all still there; the deletion is in the operator's
// audit log, which verifies, under the organisation's hash.
func TestDeleteOrg(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		db := openDSN(t, dsn(t))
		ctx := t.Context()
		a := fillOrg(t, db, "Alpha", true)
		b := fillOrg(t, db, "Bravo", false)
		before := dumpRows(t, db)
		var emptyForA []string
		countsA, err := db.ExportCounts(ctx, a.org)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range ExportTables() {
			if countsA[tb] == 0 {
				emptyForA = append(emptyForA, tb)
			}
		}
		// What the fixture does not reach: deliveries need the notifier.
		if diff := slices.Compare(emptyForA, []string{"notify_deliveries", "notify_attempts"}); diff != 0 {
			t.Logf("tables the fixture left empty: %v", emptyForA)
		}
		countsB, err := db.ExportCounts(ctx, b.org)
		if err != nil {
			t.Fatal(err)
		}

		removed, err := db.DeleteOrg(ctx, a.org, audit.Event{Time: storetest.T0, Actor: "usr_deleter", Detail: "typed confirmation"})
		if err != nil {
			t.Fatal(err)
		}
		if removed["orgs"] != 1 || removed["printers"] != 1 || removed["users"] < 21 {
			t.Errorf("removed %v", removed)
		}
		// An upload of the deleted organisation still in the stream, applied
		// late, brings nothing back.
		late := storetest.Env(a.org, fleet.SiteID(a.canaries[1]), "gw_late",
			storetest.StatusRecord(100, "printer-alpha", fleet.StateIdle, storetest.T0),
			storetest.EventRecord(101, "printer-alpha", "LATE", storetest.T0))
		if n, err := db.ApplyEnvelope(ctx, late); err == nil || n > 0 {
			t.Errorf("a late envelope of the deleted organisation: %d applied, %v", n, err)
		}
		after := dumpRows(t, db)
		for tb, rows := range after {
			for _, r := range rows {
				for _, c := range a.canaries {
					if strings.Contains(r, c) {
						t.Errorf("after deletion, a row of %s names %q: %q", tb, c, r)
					}
				}
			}
		}
		// Every row that did not name the deleted organisation is still
		// there (the operator's chain grew by the deletion's entry).
		for tb, rows := range before {
			for _, r := range rows {
				named := slices.ContainsFunc(a.canaries, func(c string) bool { return strings.Contains(r, c) })
				if !named && !slices.Contains(after[tb], r) && tb != "audit_heads" {
					t.Errorf("deletion removed a row of %s that is not the organisation's: %q", tb, r)
				}
			}
		}
		if got, err := db.ExportCounts(ctx, b.org); err != nil || !mapsEqual(got, countsB) {
			t.Errorf("the other organisation's rows: %v, %v; before %v", got, err, countsB)
		}
		var sys []audit.Entry
		if err := db.AuditEntries(ctx, audit.SystemOrg, audit.Filter{}, func(x audit.Entry) error { sys = append(sys, x); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(sys) != 1 || sys[0].Action != "org.delete" || sys[0].Target != "org-sha256:"+sha256Hex(string(a.org)) ||
			sys[0].Name != "user-sha256:"+sha256Hex("usr_deleter") {
			t.Errorf("operator's log after deletion: %+v", sys)
		}
		if _, problems, err := db.VerifyAudit(ctx, audit.SystemOrg, nil); err != nil || len(problems) > 0 {
			t.Errorf("operator's chain: %v, %v", problems, err)
		}
		if _, err := db.DeleteOrg(ctx, a.org, audit.Event{Time: storetest.T0}); err == nil {
			t.Error("deleted a deleted organisation again")
		}
	})
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestExportOrg: an export holds every exported table of the
// organisation in order, as many rows as ExportCounts says, none of
// another organisation's, and no secret column.
func TestExportOrg(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		db := openDSN(t, dsn(t))
		ctx := t.Context()
		a := fillOrg(t, db, "Alpha", true)
		b := fillOrg(t, db, "Bravo", false)
		counts, err := db.ExportCounts(ctx, a.org)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		got := map[string]int64{}
		err = db.ExportOrg(ctx, a.org, func(tb string) error { parts = append(parts, tb); return nil }, func(row map[string]any) error {
			tb := parts[len(parts)-1]
			got[tb]++
			for _, secret := range []string{"password_hash", "token_hash", "secret"} {
				if _, ok := row[secret]; ok {
					t.Errorf("%s exports %s", tb, secret)
				}
			}
			text := fmt.Sprint(row)
			for _, c := range b.canaries {
				if strings.Contains(text, c) {
					t.Errorf("%s row names %q of the other organisation: %s", tb, c, text)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(parts, ExportTables()) {
			t.Errorf("parts %v, want %v", parts, ExportTables())
		}
		for tb, n := range counts {
			if got[tb] != n {
				t.Errorf("%s: %d rows exported, %d counted", tb, got[tb], n)
			}
		}
		if got["orgs"] != 1 || got["printers"] != 1 || got["jobs"] != 1 || got["audit_log"] != 1 {
			t.Errorf("export rows %v", got)
		}
	})
}

// An export reads one snapshot without holding writers back: a write made
// while it streams commits at once (on SQLite, a read-only transaction is
// deferred, not the driver's IMMEDIATE that takes the write lock) and is
// not in the export.
func TestExportLetsWritersOn(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		db := openDSN(t, dsn(t))
		a := fillOrg(t, db, "Alpha", true)
		wrote := false
		sites := 0
		err := db.ExportOrg(t.Context(), a.org, func(string) error { return nil }, func(row map[string]any) error {
			if _, ok := row["org_id"]; ok && !wrote {
				wrote = true
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				defer cancel()
				if _, err := db.CreateSite(ctx, a.org, "Added while exporting"); err != nil {
					t.Errorf("a write during the export: %v", err)
				}
			}
			if row["name"] == "Added while exporting" {
				sites++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !wrote || sites != 0 {
			t.Errorf("wrote %v, the export holds the new site %d times; want a write, not exported", wrote, sites)
		}
	})
}
