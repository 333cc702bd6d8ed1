package store

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// fillAudit records n entries in org's chain.
func fillAudit(t *testing.T, db *DB, org fleet.OrgID, n int) {
	t.Helper()
	for i := range n {
		e := audit.Event{Time: storetest.T0.Add(time.Duration(i) * time.Second), Org: org, ActorOrg: org,
			Actor: "usr_admin", Name: "admin", Action: "admin.write", Target: fmt.Sprintf("usr_%d", i), Detail: "POST /admin/users"}
		if err := db.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditVerifyFindsTampering tampers with the audit tables directly,
// as someone with write access to the database would, and checks that
// verification reports each change at its position.
func TestAuditVerifyFindsTampering(t *testing.T) {
	forge := func(db *DB, org fleet.OrgID, seq int64, prev string) string {
		x := audit.Chain(audit.Head{Org: org, Seq: seq - 1, Hash: prev}, audit.Event{Time: storetest.T0, Org: org,
			Action: "admin.write", Name: "mallory"})
		return fmt.Sprintf(`INSERT INTO audit_log (org_id, seq, time, actor_org, actor, name, action, target, grant_id, detail, prev, hash)
			VALUES ('%s', %d, %d, '', '', 'mallory', 'admin.write', '', '', '', '%s', '%s')`, org, x.Seq, x.Time.UnixNano(), x.Prev, x.Hash)
	}
	tests := []struct {
		name string
		// tamper returns the statements to run on a chain of 5 entries.
		tamper  func(db *DB, org fleet.OrgID, hashes []string) []string
		anchor  bool // verify against the head taken before tampering
		want    []string
		wantNot bool // nothing detectable
	}{
		{"untouched", func(*DB, fleet.OrgID, []string) []string { return nil }, false, nil, false},
		{"a field changed", func(_ *DB, org fleet.OrgID, _ []string) []string {
			return []string{fmt.Sprintf(`UPDATE audit_log SET name = 'someone' WHERE org_id = '%s' AND seq = 3`, org)}
		}, false, []string{"entry 3: altered"}, false},
		{"the time changed", func(_ *DB, org fleet.OrgID, _ []string) []string {
			return []string{fmt.Sprintf(`UPDATE audit_log SET time = time + 1 WHERE org_id = '%s' AND seq = 1`, org)}
		}, false, []string{"entry 1: altered"}, false},
		{"a middle entry removed", func(_ *DB, org fleet.OrgID, _ []string) []string {
			return []string{fmt.Sprintf(`DELETE FROM audit_log WHERE org_id = '%s' AND seq = 2`, org)}
		}, false, []string{"entry 2: removed", "entry 3: broken link"}, false},
		{"an entry inserted in the middle", func(db *DB, org fleet.OrgID, h []string) []string {
			// Renumber 3…5 to 4…6, then forge 3 linking to 2: entry 4 (the old 3) no longer links.
			return []string{
				fmt.Sprintf(`UPDATE audit_log SET seq = seq + 10 WHERE org_id = '%s' AND seq >= 3`, org),
				fmt.Sprintf(`UPDATE audit_log SET seq = seq - 9 WHERE org_id = '%s' AND seq >= 13`, org),
				forge(db, org, 3, h[1]),
			}
		}, false, []string{"entry 4: altered", "entry 5: altered", "entry 6: altered", "entry 4: broken link", "head mismatch"}, false},
		{"a forged entry appended", func(db *DB, org fleet.OrgID, h []string) []string {
			return []string{forge(db, org, 6, h[4])}
		}, false, []string{"entry 6: head mismatch"}, false},
		{"the tail cut", func(_ *DB, org fleet.OrgID, _ []string) []string {
			return []string{fmt.Sprintf(`DELETE FROM audit_log WHERE org_id = '%s' AND seq >= 4`, org)}
		}, false, []string{"entry 4: head mismatch"}, false},
		{"the head removed", func(_ *DB, org fleet.OrgID, _ []string) []string {
			return []string{fmt.Sprintf(`DELETE FROM audit_heads WHERE org_id = '%s'`, org)}
		}, false, []string{"entry 5: head mismatch"}, false},
		{"the tail cut and the head moved back: only an anchor tells", func(_ *DB, org fleet.OrgID, h []string) []string {
			return []string{
				fmt.Sprintf(`DELETE FROM audit_log WHERE org_id = '%s' AND seq >= 4`, org),
				fmt.Sprintf(`UPDATE audit_heads SET seq = 3, hash = '%s' WHERE org_id = '%s'`, h[2], org),
			}
		}, true, []string{"entry 5: anchor mismatch"}, false},
		{"the tail cut and the head moved back, no anchor", func(_ *DB, org fleet.OrgID, h []string) []string {
			return []string{
				fmt.Sprintf(`DELETE FROM audit_log WHERE org_id = '%s' AND seq >= 4`, org),
				fmt.Sprintf(`UPDATE audit_heads SET seq = 3, hash = '%s' WHERE org_id = '%s'`, h[2], org),
			}
		}, false, nil, true},
		{"the chain rewritten from entry 4 with fresh hashes: only an anchor tells", func(db *DB, org fleet.OrgID, h []string) []string {
			x4 := audit.Chain(audit.Head{Org: org, Seq: 3, Hash: h[2]}, audit.Event{Time: storetest.T0, Org: org, Action: "admin.write", Name: "mallory"})
			return []string{
				fmt.Sprintf(`DELETE FROM audit_log WHERE org_id = '%s' AND seq >= 4`, org),
				forge(db, org, 4, h[2]),
				fmt.Sprintf(`UPDATE audit_heads SET seq = 4, hash = '%s' WHERE org_id = '%s'`, x4.Hash, org),
			}
		}, true, []string{"entry 5: anchor mismatch"}, false},
	}
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				db := openDSN(t, dsn(t))
				org, _ := tenant(t, db, "A")
				other, _ := tenant(t, db, "B")
				fillAudit(t, db, org, 5)
				fillAudit(t, db, other, 2)
				var hashes []string
				err := db.AuditEntries(t.Context(), org, audit.Filter{}, func(x audit.Entry) error {
					hashes = append([]string{x.Hash}, hashes...)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				anchor, err := db.AuditHead(t.Context(), org)
				if err != nil {
					t.Fatal(err)
				}
				for _, q := range tt.tamper(db, org, hashes) {
					if _, err := db.db.ExecContext(t.Context(), q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				var anchors []audit.Head
				if tt.anchor {
					anchors = []audit.Head{*anchor}
				}
				_, problems, err := db.VerifyAudit(t.Context(), org, anchors)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, p := range problems {
					got = append(got, p.String())
				}
				report := strings.Join(got, "\n")
				for _, w := range tt.want {
					if !strings.Contains(report, w) {
						t.Errorf("report lacks %q:\n%s", w, report)
					}
				}
				if len(tt.want) == 0 && len(problems) > 0 {
					t.Errorf("problems reported (want none%s):\n%s", map[bool]string{true: ": undetectable without an anchor"}[tt.wantNot], report)
				}
				if _, p, err := db.VerifyAudit(t.Context(), other, anchors); err != nil || len(p) > 0 {
					t.Errorf("the other organisation's chain: %v, %v", p, err)
				}
			})
		}
	})
}

// TestAuditAppendsFromSeveralNodes appends to one chain through two
// stores on one database, as two cloud nodes do: the appends queue on
// the chain's head and the chain verifies.
func TestAuditAppendsFromSeveralNodes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn func(testing.TB) string) {
		path := dsn(t)
		nodes := []*DB{openDSN(t, path), openDSN(t, path)}
		org, _ := tenant(t, nodes[0], "A")
		const each = 15
		var wg sync.WaitGroup
		errs := make(chan error, 2*len(nodes)*each)
		for n, db := range nodes {
			for w := range 2 {
				wg.Go(func() {
					for i := range each {
						errs <- db.Record(t.Context(), audit.Event{Time: storetest.T0, Org: org, Action: "admin.write",
							Target: fmt.Sprintf("node %d writer %d #%d", n, w, i)})
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		head, problems, err := nodes[1].VerifyAudit(t.Context(), org, nil)
		if err != nil || len(problems) > 0 {
			t.Fatalf("verify: %v, %v", problems, err)
		}
		if want := int64(2 * len(nodes) * each); head.Seq != want {
			t.Errorf("head at entry %d, want %d", head.Seq, want)
		}
	})
}

// BenchmarkAuditRecord measures what the audit log adds to an audited
// request: the time of one Record (a transaction that locks the chain's
// head, inserts the entry and moves the head) and, in the same run on the
// same store, of LoginFailed, the one write a failed login made before
// (a transaction upserting two throttle rows). ratio = Record /
// LoginFailed.
func BenchmarkAuditRecord(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			db := openDSN(b, d.dsn(b))
			org, err := db.CreateOrg(b.Context(), "bench")
			if err != nil {
				b.Fatal(err)
			}
			var record, reference time.Duration
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				if err := db.Record(b.Context(), audit.Event{Time: storetest.T0, Org: org, ActorOrg: org, Actor: "usr_bench",
					Name: "bench", Action: audit.ActionAdmin, Target: fmt.Sprintf("id=usr_%d", i), Detail: "POST /admin/users/{id}/access"}); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if err := db.LoginFailed(b.Context(), "bench", "192.0.2.1", storetest.T0); err != nil {
					b.Fatal(err)
				}
				record += mid.Sub(start)
				reference += time.Since(mid)
			}
			n := float64(b.N)
			b.ReportMetric(float64(record.Microseconds())/n, "record_µs/op")
			b.ReportMetric(float64(reference.Microseconds())/n, "loginfailed_µs/op")
			b.ReportMetric(float64(record)/float64(reference), "ratio")
		})
	}
}
