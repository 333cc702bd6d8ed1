package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx", to tamper with the database
)

// TestAuditVerify runs "fusionfleet audit verify" on a store of each
// engine before and after tampering with its audit log directly: it
// passes, then names the entry and exits 1, and with the heads of the
// first run as anchors it finds a cut tail the stored head hides.
func TestAuditVerify(t *testing.T) {
	for _, engine := range []struct {
		name string
		dsn  func(t *testing.T) (db string, raw func() (*sql.DB, error))
	}{
		{"sqlite", func(t *testing.T) (string, func() (*sql.DB, error)) {
			p := filepath.Join(t.TempDir(), "cloud.db")
			return p, func() (*sql.DB, error) { return sqlitedb.OpenFile(p) }
		}},
		{"postgres", func(t *testing.T) (string, func() (*sql.DB, error)) {
			u := pgtest.FreshDB(t)
			return u, func() (*sql.DB, error) { return sql.Open("pgx", u) }
		}},
	} {
		t.Run(engine.name, func(t *testing.T) {
			dsn, raw := engine.dsn(t)
			st, err := cloud.OpenStore(t.Context(), t.TempDir(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			org, err := st.CreateOrg(t.Context(), "A")
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				for _, o := range []string{string(org), ""} {
					if err := st.Record(t.Context(), audit.Event{Time: time.Unix(int64(1e9+i), 0), Org: fleet.OrgID(o), Action: "login", Name: "ada"}); err != nil {
						t.Fatal(err)
					}
				}
			}
			st.Close()

			code, out, errOut := runArgs(t, "audit", "verify", "-db", dsn)
			if code != 0 || !strings.Contains(out, "org "+string(org)+": 4 entries, verified") || !strings.Contains(out, "org (system): 4 entries, verified") {
				t.Fatalf("untouched: exit %d\n%s%s", code, out, errOut)
			}
			anchors := filepath.Join(t.TempDir(), "anchors")
			if err := os.WriteFile(anchors, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}

			db, err := raw()
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			exec := func(q string) {
				t.Helper()
				if _, err := db.ExecContext(t.Context(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec(fmt.Sprintf(`UPDATE audit_log SET name = 'bob' WHERE org_id = '%s' AND seq = 2`, org))
			code, out, errOut = runArgs(t, "audit", "verify", "-db", dsn)
			if code != 1 || !strings.Contains(out, "entry 2: altered") || !strings.Contains(errOut, "tampered") {
				t.Errorf("altered: exit %d\n%s%s", code, out, errOut)
			}

			exec(`UPDATE audit_log SET name = 'ada' WHERE org_id = '' AND seq = 2`) // no change: still verifies
			exec(`DELETE FROM audit_log WHERE org_id = '' AND seq = 4`)
			exec(`UPDATE audit_heads SET seq = 3, hash = (SELECT hash FROM audit_log WHERE org_id = '' AND seq = 3) WHERE org_id = ''`)
			code, out, _ = runArgs(t, "audit", "verify", "-db", dsn)
			if !strings.Contains(out, "org (system): 3 entries, verified") {
				t.Errorf("a tail cut with its head moved back is undetectable without an anchor; got:\n%s", out)
			}
			code, out, errOut = runArgs(t, "audit", "verify", "-db", dsn, "-anchors", anchors)
			if code != 1 || !strings.Contains(out, "org (system): TAMPERED") || !strings.Contains(out, "entry 4: anchor mismatch") {
				t.Errorf("cut tail against the anchor: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// TestFeaturesCommand sets an organisation's plan, shows it, and finds
// the change in the organisation's audit log.
func TestFeaturesCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := cloud.OpenStore(t.Context(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	org, err := st.CreateOrg(t.Context(), "A")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args     []string
		code     int
		want     string
		wantErrs string
	}{
		{nil, 0, string(org) + ": benchmark,export,api", ""},
		{[]string{"-set", "export,api"}, 0, string(org) + ": export,api", ""},
		{[]string{"-set", "none"}, 0, string(org) + ": none", ""},
		{[]string{"-set", "teleport"}, 1, "", `unknown feature "teleport"`},
	} {
		code, out, errOut := runArgs(t, append([]string{"features", "-data", dir, "-org", string(org)}, tt.args...)...)
		if code != tt.code || !strings.Contains(out, tt.want) || !strings.Contains(errOut, tt.wantErrs) {
			t.Errorf("%v: exit %d\n%s%s", tt.args, code, out, errOut)
		}
	}
	if code, _, errOut := runArgs(t, "features", "-data", dir, "-org", "org_none"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("unknown organisation: exit %d, %s", code, errOut)
	}
	code, out, _ := runArgs(t, "audit", "verify", "-data", dir)
	if code != 0 || !strings.Contains(out, "org "+string(org)+": 2 entries, verified") {
		t.Errorf("the plan changes in the audit log: exit %d\n%s", code, out)
	}
}
