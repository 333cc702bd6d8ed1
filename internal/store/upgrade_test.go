package store

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
	"github.com/google/go-cmp/cmp"
)

// legacyDB makes a database as the separate store of its dialect left it
// after its migrations up to version upTo (testdata/legacy), and returns
// an open connection to it.
func legacyDB(t *testing.T, k dialectKind, dsn string, upTo int) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if k == postgres {
		db, err = sql.Open("pgx", dsn)
	} else {
		db, err = sqlitedb.OpenFile(dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dir := filepath.Join("testdata", "legacy", newDialect(k).String())
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			t.Fatal(err)
		}
		if v > upTo {
			break
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), string(body)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := db.ExecContext(t.Context(), `INSERT INTO schema_migrations (version) VALUES (`+strconv.Itoa(v)+`)`); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// schema lists the columns (table, name, type, nullable) and indexes
// (name, table, columns or definition) of the store's database.
func schema(t *testing.T, db *DB) []string {
	t.Helper()
	q := []string{
		`SELECT m.name || ' ' || p.name || ' ' || p.type || ' ' || p."notnull"
			FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'`,
		`SELECT 'index ' || m.name || ' ON ' || m.tbl_name || ' ' || COALESCE(m.sql, 'auto') FROM sqlite_master m WHERE m.type = 'index'`,
	}
	if db.dialect.kind == postgres {
		q = []string{
			`SELECT table_name || ' ' || column_name || ' ' || data_type || ' ' || is_nullable
				FROM information_schema.columns WHERE table_schema = current_schema()`,
			`SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()`,
		}
	}
	var out []string
	for _, s := range q {
		rows, err := db.db.QueryContext(t.Context(), s+` ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			out = append(out, line)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestUpgradeInPlace opens databases that the separate SQLite and
// PostgreSQL stores left, at their first released schema and at their
// last: the data is kept and the schema becomes that of a fresh database.
func TestUpgradeInPlace(t *testing.T) {
	for _, d := range dialects {
		k := sqlite
		if d.name == "postgres" {
			k = postgres
		}
		for _, tt := range []struct {
			name string
			upTo int
		}{{"first", 1}, {"newest", 99}} {
			t.Run(d.name+"/"+tt.name, func(t *testing.T) {
				ctx := t.Context()
				fresh := openDSN(t, d.dsn(t))
				dsn := d.dsn(t)
				old := legacyDB(t, k, dsn, tt.upTo)
				for _, q := range []string{
					`INSERT INTO orgs (id, name) VALUES ('org_1', 'Acme')`,
					`INSERT INTO sites (id, org_id, name) VALUES ('site_1', 'org_1', 'Plant')`,
					`INSERT INTO users (id, org_id, name, password_hash, role) VALUES ('usr_1', 'org_1', 'ada', 'h', 3)`,
					`INSERT INTO printers (id, org_id, site_id, last_seen) VALUES ('printer-1', 'org_1', 'site_1', 1)`,
				} {
					if _, err := old.ExecContext(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				old.Close()

				db := openDSN(t, dsn)
				org, err := db.Org(ctx, "org_1")
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(access.Org{ID: "org_1", Name: "Acme", Kind: access.OrgCustomer}, org); diff != "" {
					t.Errorf("Org (-want +got):\n%s", diff)
				}
				m, err := db.Member(ctx, "org_1", "usr_1")
				if err != nil {
					t.Fatal(err)
				}
				want := access.Member{User: fleet.User{ID: "usr_1", OrgID: "org_1", Name: "ada", Role: fleet.RoleAdmin}, Sites: access.AllSites()}
				if diff := cmp.Diff(want, m, cmp.Comparer(func(a, b access.SiteSet) bool { return a.Equal(b) })); diff != "" {
					t.Errorf("Member (-want +got):\n%s", diff)
				}
				if err := db.DeleteMember(ctx, "org_1", "usr_1"); !errors.Is(err, fleet.ErrConflict) {
					t.Errorf("DeleteMember(only admin) = %v, want ErrConflict", err)
				}
				if ps, err := db.Printers(ctx, "org_1"); err != nil || len(ps) != 1 {
					t.Errorf("Printers = %v, %v; want the one printer", ps, err)
				}
				// A printer stored before printers had device IDs keeps
				// its ID as both.
				if det, err := db.PrinterDetail(ctx, "org_1", "printer-1"); err != nil || det.DeviceID != "printer-1" {
					t.Errorf("PrinterDetail: device ID %q, %v; want printer-1", det.DeviceID, err)
				}
				places, err := db.PrinterPlaces(ctx, "org_1", []fleet.PrinterID{"printer-1"})
				if want := (fleet.PrinterPlace{Key: "printer-1", SiteID: "site_1"}); err != nil || places["printer-1"] != want {
					t.Errorf("PrinterPlaces = %v, %v; want printer-1 at site_1", places, err)
				}
				if got := schema(t, fresh); len(got) < 100 {
					t.Fatalf("schema of a fresh database = %d lines, want the whole schema", len(got))
				}
				if diff := cmp.Diff(schema(t, fresh), schema(t, db)); diff != "" {
					t.Errorf("schema after upgrade (-fresh +upgraded):\n%s", diff)
				}
				ms, err := migrations()
				if err != nil {
					t.Fatal(err)
				}
				if got := count(t, db, "store_migrations"); got != len(ms) {
					t.Errorf("store_migrations rows = %d, want %d", got, len(ms))
				}
			})
		}
	}
}
