package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// AuditLog is the tamper-evident audit log: per organisation an
// append-only chain of entries.
type AuditLog interface {
	audit.Recorder
	AuditEntries(ctx context.Context, org fleet.OrgID, f audit.Filter, fn func(audit.Entry) error) error
	AuditHead(ctx context.Context, org fleet.OrgID) (*audit.Head, error)
	VerifyAudit(ctx context.Context, org fleet.OrgID, anchors []audit.Head) (audit.Head, []audit.Problem, error)
	AuditOrgs(ctx context.Context) ([]fleet.OrgID, error)
}

// AuditStore is what RunAudit drives: the audit log, with organisations
// to log for.
type AuditStore interface {
	AuditLog
	Orgs
}

// RunAudit runs the audit log's contract against stores made by open:
// entries chain without gaps per organisation, even when appended at
// once from many connections, and read back filtered and paged.
func RunAudit(t *testing.T, open func(t *testing.T) AuditStore) {
	runTests(t, open, []storeTest[AuditStore]{
		{"ChainPerOrg", testAuditChainPerOrg},
		{"Filter", testAuditFilter},
		{"ConcurrentAppends", testAuditConcurrent},
		{"Refuses", testAuditRefuses},
	})
}

// auditEvent is an event of org at T0 plus i minutes.
func auditEvent(org fleet.OrgID, i int, action, actor string) audit.Event {
	return audit.Event{Time: T0.Add(time.Duration(i) * time.Minute), Org: org, ActorOrg: org, Actor: fleet.UserID(actor),
		Name: actor + "-name", Action: action, Target: fmt.Sprintf("target-%d", i), Detail: "POST /admin/users"}
}

// auditLog reads org's entries that f selects.
func auditLog(t *testing.T, db AuditLog, org fleet.OrgID, f audit.Filter) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	if err := db.AuditEntries(t.Context(), org, f, func(x audit.Entry) error { out = append(out, x); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// seqs lists the entries' sequence numbers.
func seqs(xs []audit.Entry) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = x.Seq
	}
	return out
}

func testAuditChainPerOrg(t *testing.T, db AuditStore) {
	ctx := t.Context()
	a, _ := tenant(t, db, "A")
	b, _ := tenant(t, db, "B")
	for i, e := range []audit.Event{
		auditEvent(a, 1, "login", "usr_1"), auditEvent(b, 2, "login", "usr_2"), auditEvent(a, 3, "admin.write", "usr_1"),
		auditEvent(audit.SystemOrg, 4, "login.failed", ""), auditEvent(a, 5, "logout", "usr_1"),
	} {
		if err := db.Record(ctx, e); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	got := auditLog(t, db, a, audit.Filter{})
	if diff := cmp.Diff([]int64{3, 2, 1}, seqs(got)); diff != "" {
		t.Fatalf("org A's entries, newest first (-want +got):\n%s", diff)
	}
	want := auditEvent(a, 5, "logout", "usr_1")
	if diff := cmp.Diff(want, got[0].Event); diff != "" {
		t.Errorf("the newest entry's event (-want +got):\n%s", diff)
	}
	for i, x := range got {
		if x.Hash != x.ComputeHash() {
			t.Errorf("entry %d: hash %s, its fields give %s", x.Seq, x.Hash, x.ComputeHash())
		}
		if i+1 < len(got) && x.Prev != got[i+1].Hash {
			t.Errorf("entry %d links to %s, not to entry %d's %s", x.Seq, x.Prev, got[i+1].Seq, got[i+1].Hash)
		}
	}
	if got[2].Prev != audit.Genesis {
		t.Errorf("the first entry links to %s, want the genesis", got[2].Prev)
	}
	if got := auditLog(t, db, b, audit.Filter{}); len(got) != 1 || got[0].Seq != 1 {
		t.Errorf("org B's log: %v, want one entry numbered 1", seqs(got))
	}
	h, err := db.AuditHead(ctx, a)
	if err != nil || h == nil || h.Seq != 3 || h.Hash != got[0].Hash {
		t.Errorf("head of A = %+v, %v; want entry 3, %s", h, err, got[0].Hash)
	}
	if h, err := db.AuditHead(ctx, "org_none"); err != nil || h != nil {
		t.Errorf("head of an organisation without a log = %+v, %v; want nil", h, err)
	}
	orgs, err := db.AuditOrgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 3 || orgs[0] != audit.SystemOrg {
		t.Errorf("audit organisations %q, want the operator's first and A, B", orgs)
	}
	for _, org := range orgs {
		head, problems, err := db.VerifyAudit(ctx, org, nil)
		if err != nil || len(problems) > 0 {
			t.Errorf("verify %q: %v, %v", org, problems, err)
		}
		if stored, _ := db.AuditHead(ctx, org); stored == nil || *stored != head {
			t.Errorf("verify %q found head %+v, stored %+v", org, head, stored)
		}
	}
}

func testAuditFilter(t *testing.T, db AuditStore) {
	a, _ := tenant(t, db, "A")
	actions := []string{"login", "login.failed", "admin.write", "login", "grant.create", "login.failed"}
	for i, act := range actions {
		actor := "usr_1"
		if i%2 == 1 {
			actor = "usr_2"
		}
		if err := db.Record(t.Context(), auditEvent(a, i, act, actor)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name string
		f    audit.Filter
		want []int64
	}{
		{"all", audit.Filter{}, []int64{6, 5, 4, 3, 2, 1}},
		{"exact action", audit.Filter{Action: "login"}, []int64{4, 1}},
		{"action prefix", audit.Filter{Action: "login."}, []int64{6, 2}},
		{"actor by ID", audit.Filter{Actor: "usr_2"}, []int64{6, 4, 2}},
		{"actor by name", audit.Filter{Actor: "usr_1-name"}, []int64{5, 3, 1}},
		{"time range", audit.Filter{From: T0.Add(time.Minute), To: T0.Add(3 * time.Minute)}, []int64{3, 2}},
		{"first page", audit.Filter{Limit: 4}, []int64{6, 5, 4, 3}},
		{"next page", audit.Filter{Limit: 4, Before: 3}, []int64{2, 1}},
		{"no match", audit.Filter{Action: "diagnostic.request"}, []int64{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, seqs(auditLog(t, db, a, tt.f))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// testAuditConcurrent appends to one chain from many goroutines at once,
// as several cloud nodes do: the entries are numbered without gaps or
// duplicates and the chain verifies.
func testAuditConcurrent(t *testing.T, db AuditStore) {
	ctx := t.Context()
	a, _ := tenant(t, db, "A")
	const writers, each = 6, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				errs <- db.Record(ctx, auditEvent(a, w*each+i, "admin.write", fmt.Sprintf("usr_%d", w)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := auditLog(t, db, a, audit.Filter{})
	if len(got) != writers*each || got[0].Seq != writers*each {
		t.Fatalf("%d entries, newest %d; want %d numbered 1…%d", len(got), got[0].Seq, writers*each, writers*each)
	}
	if _, problems, err := db.VerifyAudit(ctx, a, nil); err != nil || len(problems) > 0 {
		t.Errorf("verify after concurrent appends: %v, %v", problems, err)
	}
}

func testAuditRefuses(t *testing.T, db AuditStore) {
	a, _ := tenant(t, db, "A")
	long := string(make([]byte, 4096))
	for name, e := range map[string]audit.Event{
		"no action":    {Time: T0, Org: a},
		"no time":      {Org: a, Action: "login"},
		"a long field": {Time: T0, Org: a, Action: "login", Detail: long},
	} {
		if err := db.Record(t.Context(), e); err == nil {
			t.Errorf("%s: recorded", name)
		}
	}
	if got := auditLog(t, db, a, audit.Filter{}); len(got) != 0 {
		t.Errorf("refused events left %d entries", len(got))
	}
}
