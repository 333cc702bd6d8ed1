package store

import (
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/learn"
)

// TestMigrateLearnApprovals: migration 21 gives each global approval of a
// database with rows to the organisation whose audit log recorded it,
// drops one no log names, and leaves the proposals open for the others.
func TestMigrateLearnApprovals(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		ctx := t.Context()
		path := dsn(t)
		db := openDSN(t, path)
		orgA, _ := tenant(t, db, "acme")
		orgB, _ := tenant(t, db, "globex")
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		if err := db.SaveLearnModel(ctx, learn.StoredModel{Promoted: true, Model: learn.Model{Version: 1, TrainedAt: t0}}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"v1-FF-4200", "v1-FF-5200", "v1-FF-6200"} {
			m := id[3:]
			if err := db.SaveLearnProposal(ctx, learn.SetProposal{ID: id, ModelVersion: 1, PrinterModel: m, Created: t0,
				Set: fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "learned-" + m, Model: m,
					Materials: map[string]fleet.MaterialParameters{"PA12": {PrintMode: "robust"}}}}); err != nil {
				t.Fatal(err)
			}
		}
		// The database as migration 20 left it: approvals in the
		// proposals, 4200's by A (whose log says so), 5200's by someone
		// no log names; 6200 open, though B's log names it.
		at := t0.Add(time.Hour)
		for _, e := range []audit.Event{
			{Time: at, Org: orgA, ActorOrg: orgA, Actor: "u_ada", Name: "ada", Action: "learning.approve", Target: "v1-FF-4200"},
			{Time: at, Org: orgB, ActorOrg: orgB, Actor: "u_bob", Name: "bob", Action: "learning.approve", Target: "v1-FF-6200"},
			{Time: at, Org: orgB, ActorOrg: orgB, Actor: "u_bob", Name: "bob", Action: "login", Target: "v1-FF-5200"},
		} {
			if err := db.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{
			`DROP TABLE learn_approvals`,
			`ALTER TABLE learn_proposals ADD COLUMN state TEXT NOT NULL DEFAULT 'proposed'`,
			`ALTER TABLE learn_proposals ADD COLUMN approved_by TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE learn_proposals ADD COLUMN approved_at BIGINT NOT NULL DEFAULT 0`,
			`UPDATE learn_proposals SET state = 'approved', approved_by = 'ada', approved_at = 1 WHERE id IN ('v1-FF-4200', 'v1-FF-5200')`,
			`DELETE FROM store_migrations WHERE version = 21`,
		} {
			if _, err := db.db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()

		db = openDSN(t, path)
		for _, c := range []struct {
			org    fleet.OrgID
			id, by string
		}{
			{orgA, "v1-FF-4200", "ada"}, {orgB, "v1-FF-4200", ""},
			{orgA, "v1-FF-5200", ""}, {orgB, "v1-FF-5200", ""},
			{orgA, "v1-FF-6200", ""}, {orgB, "v1-FF-6200", ""},
		} {
			p, err := db.LearnProposal(ctx, c.org, c.id)
			if err != nil {
				t.Fatal(err)
			}
			want := learn.ProposalOpen
			if c.by != "" {
				want = learn.ProposalApproved
			}
			if p.State != want || p.ApprovedBy != c.by {
				t.Errorf("%s for %s: %s by %q, want %s by %q", c.id, c.org, p.State, p.ApprovedBy, want, c.by)
			}
			if c.by != "" && (p.ApproverID != "u_ada" || !p.ApprovedAt.Equal(at)) {
				t.Errorf("%s for %s: approver %s at %v, want u_ada at %v", c.id, c.org, p.ApproverID, p.ApprovedAt, at)
			}
		}
	})
}
