package sqlite

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tenant creates an org with one site.
func tenant(t *testing.T, db *DB, name string) (fleet.OrgID, fleet.SiteID) {
	t.Helper()
	org, err := db.CreateOrg(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	site, err := db.CreateSite(t.Context(), org, name+" plant")
	if err != nil {
		t.Fatal(err)
	}
	return org, site
}

func TestOpenTwiceKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cloud.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	org, err := db.CreateOrg(t.Context(), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(t.Context(), path) // migrations must not run again
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateSite(t.Context(), org, "Berlin"); err != nil {
		t.Errorf("org lost after reopen: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(t.Context(), ""); err == nil {
		t.Error("Open(\"\") = nil error")
	}
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing", "dir", "x.db")); err == nil {
		t.Error("Open in a missing directory = nil error")
	}
}

func TestTenants(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	org, err := db.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := tenant(t, db, "Other")
	b, err := db.CreateSite(ctx, org, "Berlin")
	if err != nil {
		t.Fatal(err)
	}
	a, err := db.CreateSite(ctx, org, "Aachen")
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Sites(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	want := []fleet.Site{{ID: a, OrgID: org, Name: "Aachen"}, {ID: b, OrgID: org, Name: "Berlin"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sites (-want +got):\n%s", diff)
	}
	if got, err := db.Sites(ctx, "org_unknown"); err != nil || len(got) != 0 {
		t.Errorf("Sites(unknown) = %v, %v; want none", got, err)
	}

	uid, err := db.CreateUser(ctx, org, "ada", "$argon2id$hash", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	u, hash, err := db.UserByName(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fleet.User{ID: uid, OrgID: org, Name: "ada", Role: fleet.RoleAdmin}, u); diff != "" {
		t.Errorf("UserByName (-want +got):\n%s", diff)
	}
	if hash != "$argon2id$hash" {
		t.Errorf("hash = %q", hash)
	}

	errTests := []struct {
		name string
		fn   func() error
		want error // nil: any error
	}{
		{"org empty name", func() error { _, err := db.CreateOrg(ctx, " "); return err }, nil},
		{"site empty name", func() error { _, err := db.CreateSite(ctx, org, ""); return err }, nil},
		{"site unknown org", func() error { _, err := db.CreateSite(ctx, "org_x", "X"); return err }, fleet.ErrNotFound},
		{"user duplicate", func() error { _, err := db.CreateUser(ctx, org, "ada", "h", fleet.RoleViewer); return err }, fleet.ErrConflict},
		{"user duplicate other org", func() error { _, err := db.CreateUser(ctx, other, "ada", "h", fleet.RoleViewer); return err }, fleet.ErrConflict},
		{"user unknown org", func() error { _, err := db.CreateUser(ctx, "org_x", "bob", "h", fleet.RoleViewer); return err }, fleet.ErrNotFound},
		{"user empty name", func() error { _, err := db.CreateUser(ctx, org, "", "h", fleet.RoleViewer); return err }, nil},
		{"user empty hash", func() error { _, err := db.CreateUser(ctx, org, "bob", "", fleet.RoleViewer); return err }, nil},
		{"user no role", func() error { _, err := db.CreateUser(ctx, org, "bob", "h", fleet.RoleNone); return err }, nil},
		{"user bad role", func() error { _, err := db.CreateUser(ctx, org, "bob", "h", fleet.Role(9)); return err }, nil},
		{"user unknown", func() error { _, _, err := db.UserByName(ctx, "nobody"); return err }, fleet.ErrNotFound},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn()
			if err == nil {
				t.Fatal("err = nil, want error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSessions(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	org, _ := tenant(t, db, "Acme")
	uid, err := db.CreateUser(ctx, org, "ada", "h", fleet.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "hash1", uid, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := fleet.User{ID: uid, OrgID: org, Name: "ada", Role: fleet.RoleViewer}
	tests := []struct {
		name    string
		hash    string
		now     time.Time
		wantErr bool
	}{
		{"valid", "hash1", t0, false},
		{"just before expiry", "hash1", t0.Add(time.Hour - time.Nanosecond), false},
		{"at expiry", "hash1", t0.Add(time.Hour), true},
		{"after expiry", "hash1", t0.Add(2 * time.Hour), true},
		{"unknown", "hash2", t0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.SessionUser(ctx, tt.hash, tt.now)
			if tt.wantErr {
				if !errors.Is(err, fleet.ErrNotFound) {
					t.Errorf("err = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("SessionUser (-want +got):\n%s", diff)
			}
		})
	}
	if err := db.CreateSession(ctx, "hash1", uid, t0); err == nil {
		t.Error("duplicate session hash accepted")
	}
	if err := db.CreateSession(ctx, "", uid, t0); err == nil {
		t.Error("empty session hash accepted")
	}
	if err := db.CreateSession(ctx, "hash3", "usr_unknown", t0); err == nil {
		t.Error("session of unknown user accepted")
	}
	if err := db.DeleteSession(ctx, "hash1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionUser(ctx, "hash1", t0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("after delete: err = %v, want ErrNotFound", err)
	}
	if err := db.DeleteSession(ctx, "hash1"); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

func pubKey(t *testing.T) []byte {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestEnrolment(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	org, site := tenant(t, db, "Acme")
	if err := db.CreateEnrolmentToken(ctx, site, "tok1", t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateEnrolmentToken(ctx, site, "tok2", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pub := pubKey(t)
	gw, err := db.Enrol(ctx, "tok1", "Command Center 1", pub, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := fleet.Gateway{ID: gw.ID, OrgID: org, SiteID: site, Name: "Command Center 1", PublicKey: pub}
	if diff := cmp.Diff(want, gw); diff != "" {
		t.Errorf("Enrol (-want +got):\n%s", diff)
	}
	got, err := db.Gateway(ctx, gw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Gateway (-want +got):\n%s", diff)
	}

	invalid := []struct {
		name string
		hash string
		now  time.Time
	}{
		{"used", "tok1", t0},
		{"expired", "tok2", t0.Add(time.Hour)},
		{"unknown", "tok9", t0},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := db.Enrol(ctx, tt.hash, "cc", pubKey(t), tt.now); !errors.Is(err, fleet.ErrInvalidToken) {
				t.Errorf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
	// Bad input does not consume the token.
	if _, err := db.Enrol(ctx, "tok2", "cc", []byte("short"), t0); err == nil || errors.Is(err, fleet.ErrInvalidToken) {
		t.Errorf("short key: err = %v, want a key error", err)
	}
	if _, err := db.Enrol(ctx, "tok2", " ", pubKey(t), t0); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := db.Enrol(ctx, "tok2", "cc2", pubKey(t), t0); err != nil {
		t.Errorf("tok2 consumed by rejected attempts: %v", err)
	}

	if err := db.CreateEnrolmentToken(ctx, "site_unknown", "tok3", t0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("token for unknown site: err = %v, want ErrNotFound", err)
	}
	if err := db.CreateEnrolmentToken(ctx, site, "", t0); err == nil {
		t.Error("empty token hash accepted")
	}
	if err := db.CreateEnrolmentToken(ctx, site, "tok1", t0); err == nil {
		t.Error("duplicate token hash accepted")
	}

	if err := db.RevokeGateway(ctx, gw.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeGateway(ctx, gw.ID); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if got, err := db.Gateway(ctx, gw.ID); err != nil || !got.Revoked {
		t.Errorf("after revoke: %+v, %v; want revoked", got, err)
	}
	if err := db.RevokeGateway(ctx, "gw_unknown"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("revoke unknown: err = %v, want ErrNotFound", err)
	}
	if _, err := db.Gateway(ctx, "gw_unknown"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown gateway: err = %v, want ErrNotFound", err)
	}
}

func TestEnrolTokenSingleUseUnderRace(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	_, site := tenant(t, db, "Acme")
	if err := db.CreateEnrolmentToken(ctx, site, "tok", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = db.Enrol(ctx, "tok", "cc", pubKey(t), t0) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, fleet.ErrInvalidToken):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d enrolments with one token, want 1", wins)
	}
}

// env builds an envelope for a gateway of org/site.
func env(org fleet.OrgID, site fleet.SiteID, gw fleet.GatewayID, recs ...fleet.Record) uplink.Envelope {
	return uplink.Envelope{OrgID: org, SiteID: site, GatewayID: gw, Records: recs}
}

func identityRec(seq uint64, p fleet.PrinterID, name string, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindIdentity, PrinterID: p, Time: at, Identity: &fleet.Identity{
		PrinterID: p, Name: name, Model: "Jet 4200", ModelNumber: "M0P44A", SerialNumber: "SN-" + name, Firmware: "1.0",
	}}
}

func statusRec(seq uint64, p fleet.PrinterID, st fleet.State, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindStatus, PrinterID: p, Time: at, Status: &fleet.Status{
		PrinterID: p, State: st, Activity: st.String(), JobID: "job12345", Progress: 0.5,
		ETCSeconds: 4980, PendingJobs: 2, Time: at,
	}}
}

func eventRec(seq uint64, p fleet.PrinterID, code string, at time.Time) fleet.Record {
	return fleet.Record{Seq: seq, Kind: fleet.KindEvent, PrinterID: p, Time: at, Event: &fleet.Event{
		Seq: seq * 10, Code: code, Description: "d", Severity: fleet.SeverityWarning, Time: at, Firmware: "1.0",
		Subsystem: "lamp", Details: "x",
	}}
}

func count(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestApplyEnvelope(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	org, site := tenant(t, db, "Acme")
	const p1, p2 = fleet.PrinterID("printer-0001"), fleet.PrinterID("printer-0002")
	e1 := env(org, site, "gw_1",
		identityRec(1, p1, "3DP 1", t0),
		statusRec(2, p1, fleet.StatePrinting, t0.Add(time.Second)),
		eventRec(3, p1, "LAMP-1", t0.Add(2*time.Second)),
		statusRec(4, p2, fleet.StateCooling, t0.Add(3*time.Second)), // p2 unknown: created
	)
	n, err := db.ApplyEnvelope(ctx, e1)
	if err != nil || n != 4 {
		t.Fatalf("first apply = %d, %v; want 4, nil", n, err)
	}
	n, err = db.ApplyEnvelope(ctx, e1)
	if err != nil || n != 0 {
		t.Fatalf("second apply = %d, %v; want 0, nil", n, err)
	}
	// Overlapping: 3 and 4 again, 5 and 6 new; 5 is an older status of p1.
	e2 := env(org, site, "gw_1", e1.Records[2], e1.Records[3],
		statusRec(5, p1, fleet.StateIdle, t0.Add(-time.Minute)),
		eventRec(6, p1, "LAMP-2", t0.Add(4*time.Second)),
		fleet.Record{Seq: 7, Kind: fleet.KindGap, PrinterID: p1, Time: t0, Gap: &fleet.Gap{Feed: "events", Reason: "restart", FromSeq: 3, ToSeq: 9}},
	)
	n, err = db.ApplyEnvelope(ctx, e2)
	if err != nil || n != 3 {
		t.Fatalf("overlapping apply = %d, %v; want 3, nil", n, err)
	}
	if got := count(t, db, "events"); got != 2 {
		t.Errorf("events = %d, want 2", got)
	}
	if got := count(t, db, "gaps"); got != 1 {
		t.Errorf("gaps = %d, want 1", got)
	}
	// The same seq from another gateway is another record.
	n, err = db.ApplyEnvelope(ctx, env(org, site, "gw_2", eventRec(3, p1, "LAMP-3", t0.Add(5*time.Second))))
	if err != nil || n != 1 {
		t.Fatalf("other gateway = %d, %v; want 1, nil", n, err)
	}

	got, err := db.Printers(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	want := []fleet.PrinterView{
		{ID: p2, SiteID: site, State: fleet.StateCooling, Activity: "cooling", JobID: "job12345", Progress: 0.5,
			ETCSeconds: 4980, PendingJobs: 2, StatusTime: t0.Add(3 * time.Second), LastSeen: t0.Add(3 * time.Second)},
		{ID: p1, Name: "3DP 1", Model: "Jet 4200", SiteID: site, State: fleet.StatePrinting, Activity: "printing",
			JobID: "job12345", Progress: 0.5, ETCSeconds: 4980, PendingJobs: 2, StatusTime: t0.Add(time.Second),
			LastSeen: t0.Add(5 * time.Second)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Printers (-want +got):\n%s", diff)
	}

	// A newer status replaces the stored one; an older identity does not
	// overwrite a newer one.
	if _, err := db.ApplyEnvelope(ctx, env(org, site, "gw_1",
		statusRec(8, p1, fleet.StateIdle, t0.Add(time.Hour)),
		identityRec(9, p1, "renamed by old record", t0.Add(-time.Hour)),
	)); err != nil {
		t.Fatal(err)
	}
	got, err = db.Printers(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].State != fleet.StateIdle || got[1].Name != "3DP 1" {
		t.Errorf("after update: state %s name %q, want idle, 3DP 1", got[1].State, got[1].Name)
	}
}

func TestApplyEnvelopeCrossOrg(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	orgA, siteA := tenant(t, db, "A")
	orgB, siteB := tenant(t, db, "B")
	const p = fleet.PrinterID("printer-aaaa")
	if _, err := db.ApplyEnvelope(ctx, env(orgA, siteA, "gw_a", identityRec(1, p, "A's printer", t0), statusRec(2, p, fleet.StatePrinting, t0))); err != nil {
		t.Fatal(err)
	}
	before, err := db.Printers(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.ApplyEnvelope(ctx, env(orgB, siteB, "gw_b",
		identityRec(1, p, "stolen", t0.Add(time.Hour)),
		statusRec(2, p, fleet.StateError, t0.Add(time.Hour)),
		eventRec(3, p, "X", t0.Add(time.Hour)),
		fleet.Record{Seq: 4, Kind: fleet.KindGap, PrinterID: p, Time: t0, Gap: &fleet.Gap{Feed: "events"}},
		statusRec(5, "printer-bbbb", fleet.StateIdle, t0.Add(time.Hour)), // B's own: applied
	))
	var rej *RejectedError
	if !errors.As(err, &rej) || len(rej.Errs) != 4 {
		t.Fatalf("err = %v, want a RejectedError of 4 records", err)
	}
	if !errors.Is(err, fleet.ErrConflict) {
		t.Errorf("err = %v, want it to wrap ErrConflict", err)
	}
	if n != 1 {
		t.Errorf("applied = %d, want 1", n)
	}
	after, err := db.Printers(ctx, orgA)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("A's printer changed by B's envelope (-before +after):\n%s", diff)
	}
	gotB, err := db.Printers(ctx, orgB)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotB) != 1 || gotB[0].ID != "printer-bbbb" {
		t.Errorf("B sees %+v, want only printer-bbbb", gotB)
	}
	if got := count(t, db, "events"); got != 0 {
		t.Errorf("events = %d, want 0", got)
	}
	// Resending reports the same rejection and changes nothing.
	n, err = db.ApplyEnvelope(ctx, env(orgB, siteB, "gw_b", statusRec(2, p, fleet.StateError, t0.Add(time.Hour))))
	if !errors.As(err, &rej) || n != 0 {
		t.Errorf("resend = %d, %v; want 0 and a rejection", n, err)
	}
}

func TestApplyEnvelopeRejects(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	org, site := tenant(t, db, "A")
	orgB, _ := tenant(t, db, "B")
	const p = fleet.PrinterID("printer-aaaa")
	bad := statusRec(1, p, fleet.StatePrinting, t0)
	bad.Status.Progress = 2
	bigEvent := eventRec(3, p, "X", t0)
	bigEvent.Event.Seq = 1 << 63
	tests := []struct {
		name string
		env  uplink.Envelope
	}{
		{"no org", env("", site, "gw", statusRec(1, p, fleet.StateIdle, t0))},
		{"no gateway", env(org, site, "", statusRec(1, p, fleet.StateIdle, t0))},
		{"site of another org", env(orgB, site, "gw", statusRec(1, p, fleet.StateIdle, t0))},
		{"unknown site", env(org, "site_x", "gw", statusRec(1, p, fleet.StateIdle, t0))},
		{"invalid record", env(org, site, "gw", bad)},
		{"seq too large", env(org, site, "gw", statusRec(1<<63, p, fleet.StateIdle, t0))},
		{"event seq too large", env(org, site, "gw", bigEvent)},
		{"gap bounds too large", env(org, site, "gw", fleet.Record{Seq: 4, Kind: fleet.KindGap, PrinterID: p, Time: t0,
			Gap: &fleet.Gap{Feed: "events", ToSeq: 1 << 63}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := db.ApplyEnvelope(ctx, tt.env)
			var rej *RejectedError
			if !errors.As(err, &rej) {
				t.Fatalf("err = %v, want *RejectedError", err)
			}
			if !errors.Is(err, fleet.ErrRejected) {
				t.Errorf("err = %v does not match fleet.ErrRejected", err)
			}
			if n != 0 {
				t.Errorf("applied = %d, want 0", n)
			}
		})
	}
	if got := count(t, db, "printers"); got != 0 {
		t.Errorf("printers = %d after rejected envelopes, want 0", got)
	}
	if got := count(t, db, "received"); got != 0 {
		t.Errorf("received = %d after rejected envelopes, want 0", got)
	}
}

func TestApplyEnvelopeCancelled(t *testing.T) {
	db := openTest(t)
	org, site := tenant(t, db, "A")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := db.ApplyEnvelope(ctx, env(org, site, "gw", statusRec(1, "printer-aaaa", fleet.StateIdle, t0)))
	var rej *RejectedError
	if err == nil || errors.As(err, &rej) {
		t.Errorf("err = %v, want a retryable error", err)
	}
}

func TestPrintersEmptyAndClosed(t *testing.T) {
	db := openTest(t)
	org, _ := tenant(t, db, "A")
	got, err := db.Printers(t.Context(), org)
	if err != nil || len(got) != 0 {
		t.Errorf("Printers of new org = %v, %v; want none", got, err)
	}
	db.Close()
	if _, err := db.Printers(t.Context(), org); err == nil {
		t.Error("Printers on closed db = nil error")
	}
	if _, err := db.Sites(t.Context(), org); err == nil {
		t.Error("Sites on closed db = nil error")
	}
	if _, _, err := db.UserByName(t.Context(), "x"); err == nil || errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("UserByName on closed db = %v, want a non-NotFound error", err)
	}
	if _, err := db.SessionUser(t.Context(), "x", t0); err == nil || errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("SessionUser on closed db = %v, want a non-NotFound error", err)
	}
	if err := db.DeleteSession(t.Context(), "x"); err == nil {
		t.Error("DeleteSession on closed db = nil error")
	}
	if err := db.RevokeGateway(t.Context(), "gw"); err == nil || errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("RevokeGateway on closed db = %v, want a non-NotFound error", err)
	}
}

func TestSetPassword(t *testing.T) {
	ctx := t.Context()
	db := openTest(t)
	org, _ := tenant(t, db, "Acme")
	uid, err := db.CreateUser(ctx, org, "ada", "old", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "s1", uid, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPassword(ctx, uid, "new"); err != nil {
		t.Fatal(err)
	}
	_, hash, err := db.UserByName(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if hash != "new" {
		t.Errorf("hash after reset: got %q, want %q", hash, "new")
	}
	// A reset ends the user's sessions.
	if _, err := db.SessionUser(ctx, "s1", t0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("session after reset: err = %v, want ErrNotFound", err)
	}
	if err := db.SetPassword(ctx, "usr_unknown", "x"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown user: err = %v, want ErrNotFound", err)
	}
	if err := db.SetPassword(ctx, uid, ""); err == nil {
		t.Error("empty hash accepted")
	}
}
