package pgtest

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The message of an unreachable server names the server tried — the one
// FUSIONFLEET_TEST_POSTGRES gives, not 127.0.0.1:5432 — without its
// password (issue 13).
func TestConnectNamesTheServerTried(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		want    []string
		wantNot []string
	}{
		{
			name: "a URL", env: "postgres://fleet:s3cret@127.0.0.1:1/none?connect_timeout=2",
			want:    []string{"no server at postgres://fleet:xxxxx@127.0.0.1:1/none?connect_timeout=2 (from FUSIONFLEET_TEST_POSTGRES)", "connection refused"},
			wantNot: []string{"s3cret", "5432"},
		},
		{
			name: "a connection string", env: "host=127.0.0.1 port=1 password=s3cret connect_timeout=2",
			want:    []string{"no server at the server of the connection string (from FUSIONFLEET_TEST_POSTGRES)"},
			wantNot: []string{"s3cret", "5432"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := connect(func(k string) string {
				if k == "FUSIONFLEET_TEST_POSTGRES" {
					return tt.env
				}
				return ""
			})
			if err == nil {
				t.Fatal("connected to a closed port")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q has %q", err, w)
				}
			}
		})
	}
}

// Create makes a database that answers and whose drop removes it.
func TestCreate(t *testing.T) {
	_, admin := Admin(t)
	u, drop, err := Create(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatalf("connect to the new database: %v", err)
	}
	c.Close(t.Context())
	if err := drop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c, err := pgx.Connect(t.Context(), u); err == nil {
		c.Close(t.Context())
		t.Errorf("database %s still answers after drop", u)
	}
	if _, _, err := Create(t.Context(), "not a url"); err == nil {
		t.Error("Create accepted a server that is not a URL")
	}
}
