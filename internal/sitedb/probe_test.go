package sitedb

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// olderSchema is this build's migrations but the last: a database an
// older build made.
func olderSchema(t *testing.T) (fs.FS, int) {
	t.Helper()
	sub, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sqlitedb.Migrations(sub)
	if err != nil {
		t.Fatal(err)
	}
	old := fstest.MapFS{}
	for _, m := range ms[:len(ms)-1] {
		b, err := fs.ReadFile(sub, m.File)
		if err != nil {
			t.Fatal(err)
		}
		old[m.File] = &fstest.MapFile{Data: b}
	}
	return old, ms[len(ms)-1].Version
}

func TestProbe(t *testing.T) {
	old, latest := olderSchema(t)
	for _, tc := range []struct {
		name    string
		make    func(t *testing.T, path string)
		current int
		wantErr string
	}{
		{name: "up to date", current: latest, make: func(t *testing.T, path string) {
			db, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
		{name: "older: migrations tried on a copy", current: latest - 1, make: func(t *testing.T, path string) {
			db, err := sqlitedb.Open(t.Context(), path, old)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
		{name: "newer than this build", current: latest + 1, wantErr: "newer than this build", make: func(t *testing.T, path string) {
			db, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`INSERT INTO schema_migrations (version) VALUES (?)`, latest+1); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "migration fails", current: latest - 1, wantErr: "migrations", make: func(t *testing.T, path string) {
			db, err := sqlitedb.Open(t.Context(), path, old)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// Whatever the last migration makes, a table of the same name
			// already there makes it fail.
			b, err := fs.ReadFile(schemaFS, "schema/"+lastFile(t))
			if err != nil {
				t.Fatal(err)
			}
			name := createdName(string(b))
			if name == "" {
				t.Skip("the last migration creates no table or index to collide with")
			}
			if _, err := db.Exec(`CREATE TABLE ` + name + ` (x)`); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "no database", wantErr: "no such file", make: func(*testing.T, string) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "commandcenter.db")
			tc.make(t, path)
			before, _ := os.ReadFile(path)
			scratch := filepath.Join(dir, "scratch")
			current, got, err := Probe(t.Context(), path, scratch)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Probe: %v, want an error with %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "no such file" && (current != tc.current || got != latest) {
				t.Errorf("Probe: schema %d, this build %d; want %d, %d", current, got, tc.current, latest)
			}
			after, _ := os.ReadFile(path)
			if string(before) != string(after) {
				t.Error("Probe changed the database")
			}
			if ents, _ := os.ReadDir(scratch); len(ents) != 0 {
				t.Errorf("Probe left %v in its scratch directory", ents)
			}
		})
	}
}

func lastFile(t *testing.T) string {
	t.Helper()
	sub, _ := fs.Sub(schemaFS, "schema")
	ms, err := sqlitedb.Migrations(sub)
	if err != nil {
		t.Fatal(err)
	}
	return ms[len(ms)-1].File
}

// createdName returns the name of the first table a migration creates.
func createdName(sql string) string {
	for _, line := range strings.Split(sql, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.EqualFold(f[0], "CREATE") && strings.EqualFold(f[1], "TABLE") {
			name := f[2]
			if strings.EqualFold(name, "IF") && len(f) >= 6 {
				return "" // IF NOT EXISTS would not collide
			}
			return strings.Trim(name, "(")
		}
	}
	return ""
}
