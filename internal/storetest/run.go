package storetest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/fusionfleet/fusionfleet/internal/retention"
	"github.com/google/go-cmp/cmp"
)

// Run runs the contract against stores made by open, one fresh store per
// subtest. open registers the store's cleanup with t.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, Store)
	}{
		{"Tenants", testTenants},
		{"Sessions", testSessions},
		{"SetPassword", testSetPassword},
		{"Enrolment", testEnrolment},
		{"EnrolTokenSingleUseUnderRace", testEnrolRace},
		{"EnrolRetrySameKey", testEnrolRetry},
		{"EnrolRetrySameKeyUnderRace", testEnrolRetryRace},
		{"ApplyEnvelope", testApplyEnvelope},
		{"ApplyEnvelopeCrossOrg", testApplyCrossOrg},
		{"ApplyEnvelopeRejects", testApplyRejects},
		{"ApplyEnvelopeCancelled", testApplyCancelled},
		{"AllKinds", testAllKinds},
		{"LayersResentInPart", testLayersResentInPart},
		{"Jobs", testJobs},
		{"JobHistory", testJobHistory},
		{"Job", testJob},
		{"Trend", testTrend},
		{"TenantIsolation", testTenantIsolation},
		{"Prune", testPrune},
		{"Closed", testClosed},
		{"OrgKinds", testOrgKinds},
		{"Members", testMembers},
		{"LastAdminUnderRace", testLastAdminRace},
		{"SessionMember", testSessionMember},
		{"Prefs", testPrefs},
		{"TOTP", testTOTP},
		{"TOTPSingleUseUnderRace", testTOTPReplayRace},
		{"LoginChallenges", testLoginChallenges},
		{"APITokens", testAPITokens},
		{"IdentityClosed", testIdentityClosed},
		{"KPIRollup", testKPIRollup},
		{"KPIFilters", testKPIFilters},
		{"BenchmarkCohort", testBenchmarkCohort},
		{"KPIRollupUnderRace", testKPIRollupRace},
		{"AlertLifecycle", testAlertLifecycle},
		{"AlertQueries", testAlertQueries},
		{"AlertOpenUnderRace", testAlertOpenRace},
		{"AlertRules", testAlertRules},
		{"AlertSweepQueries", testAlertSweepQueries},
		{"NotifyChannels", testNotifyChannels},
		{"NotifyPrefs", testNotifyPrefs},
		{"Recipients", testRecipients},
		{"Deliveries", testDeliveries},
		{"DeliveryRevisions", testDeliveryRevisions},
		{"ClaimDeliveriesUnderRace", testClaimRace},
		{"VersionFailures", testVersionFailures},
		{"PrinterVersions", testPrinterVersions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// tenant creates an org with one site.
func tenant(t *testing.T, s Store, name string) (fleet.OrgID, fleet.SiteID) {
	t.Helper()
	org, err := s.CreateOrg(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	site, err := s.CreateSite(t.Context(), org, name+" plant")
	if err != nil {
		t.Fatal(err)
	}
	return org, site
}

// apply applies an envelope and checks how many records were new.
func apply(t *testing.T, s Store, env fleet.Envelope, want int) {
	t.Helper()
	n, err := s.ApplyEnvelope(t.Context(), env)
	if err != nil || n != want {
		t.Fatalf("ApplyEnvelope = %d, %v; want %d, nil", n, err, want)
	}
}

type errCase struct {
	name string
	fn   func() error
	want error // nil: any error
}

func checkErrs(t *testing.T, cases []errCase) {
	t.Helper()
	for _, tt := range cases {
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

func testTenants(t *testing.T, db Store) {
	ctx := t.Context()
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
	checkErrs(t, []errCase{
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
	})
}

func testSessions(t *testing.T, db Store) {
	ctx := t.Context()
	org, _ := tenant(t, db, "Acme")
	uid, err := db.CreateUser(ctx, org, "ada", "h", fleet.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "hash1", uid, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := fleet.User{ID: uid, OrgID: org, Name: "ada", Role: fleet.RoleViewer}
	tests := []struct {
		name    string
		hash    string
		now     time.Time
		wantErr bool
	}{
		{"valid", "hash1", T0, false},
		{"just before expiry", "hash1", T0.Add(time.Hour - time.Nanosecond), false},
		{"at expiry", "hash1", T0.Add(time.Hour), true},
		{"after expiry", "hash1", T0.Add(2 * time.Hour), true},
		{"unknown", "hash2", T0, true},
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
	if err := db.CreateSession(ctx, "hash1", uid, T0); err == nil {
		t.Error("duplicate session hash accepted")
	}
	if err := db.CreateSession(ctx, "", uid, T0); err == nil {
		t.Error("empty session hash accepted")
	}
	if err := db.DeleteSession(ctx, "hash1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionUser(ctx, "hash1", T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("after delete: err = %v, want ErrNotFound", err)
	}
	if err := db.DeleteSession(ctx, "hash1"); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

func testSetPassword(t *testing.T, db Store) {
	ctx := t.Context()
	org, _ := tenant(t, db, "Acme")
	uid, err := db.CreateUser(ctx, org, "ada", "old", fleet.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, "s1", uid, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.SetPassword(ctx, uid, "new"); err != nil {
		t.Fatal(err)
	}
	if _, hash, err := db.UserByName(ctx, "ada"); err != nil || hash != "new" {
		t.Errorf("hash after reset: got %q, %v; want %q", hash, err, "new")
	}
	if _, err := db.SessionUser(ctx, "s1", T0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("session after reset: err = %v, want ErrNotFound", err)
	}
	if err := db.SetPassword(ctx, "usr_unknown", "x"); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("unknown user: err = %v, want ErrNotFound", err)
	}
	if err := db.SetPassword(ctx, uid, ""); err == nil {
		t.Error("empty hash accepted")
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

func testEnrolment(t *testing.T, db Store) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	if err := db.CreateEnrolmentToken(ctx, site, "tok1", T0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateEnrolmentToken(ctx, site, "tok2", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pub := pubKey(t)
	gw, err := db.Enrol(ctx, "tok1", "Command Center 1", pub, T0)
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
		{"used", "tok1", T0},
		{"expired", "tok2", T0.Add(time.Hour)},
		{"unknown", "tok9", T0},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := db.Enrol(ctx, tt.hash, "cc", pubKey(t), tt.now); !errors.Is(err, fleet.ErrInvalidToken) {
				t.Errorf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
	// Bad input does not consume the token.
	if _, err := db.Enrol(ctx, "tok2", "cc", []byte("short"), T0); err == nil || errors.Is(err, fleet.ErrInvalidToken) {
		t.Errorf("short key: err = %v, want a key error", err)
	}
	if _, err := db.Enrol(ctx, "tok2", " ", pubKey(t), T0); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := db.Enrol(ctx, "tok2", "cc2", pubKey(t), T0); err != nil {
		t.Errorf("tok2 consumed by rejected attempts: %v", err)
	}
	checkErrs(t, []errCase{
		{"token for unknown site", func() error { return db.CreateEnrolmentToken(ctx, "site_unknown", "tok3", T0) }, fleet.ErrNotFound},
		{"empty token hash", func() error { return db.CreateEnrolmentToken(ctx, site, "", T0) }, nil},
		{"duplicate token hash", func() error { return db.CreateEnrolmentToken(ctx, site, "tok1", T0) }, nil},
		{"revoke unknown", func() error { return db.RevokeGateway(ctx, "gw_unknown") }, fleet.ErrNotFound},
		{"unknown gateway", func() error { _, err := db.Gateway(ctx, "gw_unknown"); return err }, fleet.ErrNotFound},
	})
	if err := db.RevokeGateway(ctx, gw.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeGateway(ctx, gw.ID); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if got, err := db.Gateway(ctx, gw.ID); err != nil || !got.Revoked {
		t.Errorf("after revoke: %+v, %v; want revoked", got, err)
	}
}

func testEnrolRace(t *testing.T, db Store) {
	ctx := t.Context()
	_, site := tenant(t, db, "Acme")
	if err := db.CreateEnrolmentToken(ctx, site, "tok", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = db.Enrol(ctx, "tok", "cc", pubKey(t), T0) })
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

// testEnrolRetry: a gateway whose answer was lost repeats its enrolment
// with the same key and gets the same gateway; nobody else can.
func testEnrolRetry(t *testing.T, db Store) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	expires := T0.Add(time.Hour)
	if err := db.CreateEnrolmentToken(ctx, site, "tok", expires); err != nil {
		t.Fatal(err)
	}
	pub := pubKey(t)
	gw, err := db.Enrol(ctx, "tok", "cc", pub, T0)
	if err != nil {
		t.Fatal(err)
	}
	want := fleet.Gateway{ID: gw.ID, OrgID: org, SiteID: site, Name: "cc", PublicKey: pub}
	same := []struct {
		name string
		now  time.Time
	}{
		{"at once", T0},
		{"before expiry", T0.Add(30 * time.Minute)},
		{"in the grace after expiry", expires.Add(24*time.Hour - time.Nanosecond)},
	}
	for _, tt := range same {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Enrol(ctx, "tok", "renamed", pub, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("repeated Enrol (-want +got):\n%s", diff)
			}
		})
	}
	if got, err := db.Gateway(ctx, gw.ID); err != nil || got.Name != "cc" {
		t.Errorf("Gateway after retries = %+v, %v; want the first name kept", got, err)
	}
	checkErrs(t, []errCase{
		{"other key", func() error { _, err := db.Enrol(ctx, "tok", "cc", pubKey(t), T0); return err }, fleet.ErrInvalidToken},
		{"grace over", func() error { _, err := db.Enrol(ctx, "tok", "cc", pub, expires.Add(24*time.Hour)); return err }, fleet.ErrInvalidToken},
		{"same key other token", func() error { _, err := db.Enrol(ctx, "tok-unknown", "cc", pub, T0); return err }, fleet.ErrInvalidToken},
	})
	if err := db.RevokeGateway(ctx, gw.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Enrol(ctx, "tok", "cc", pub, T0); !errors.Is(err, fleet.ErrInvalidToken) {
		t.Errorf("revoked gateway re-enrols: err = %v, want ErrInvalidToken", err)
	}
}

// testEnrolRetryRace: one gateway sending its enrolment several times at
// once gets one gateway, every time.
func testEnrolRetryRace(t *testing.T, db Store) {
	ctx := t.Context()
	_, site := tenant(t, db, "Acme")
	if err := db.CreateEnrolmentToken(ctx, site, "tok", T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pub := pubKey(t)
	const n = 8
	ids := make([]fleet.GatewayID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			gw, err := db.Enrol(ctx, "tok", "cc", pub, T0)
			ids[i], errs[i] = gw.ID, err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Enrol %d: %v", i, err)
		}
		if ids[i] != ids[0] {
			t.Errorf("Enrol %d = %s, want %s like the first", i, ids[i], ids[0])
		}
	}
}

func testApplyEnvelope(t *testing.T, db Store) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	const p1, p2 = fleet.PrinterID("printer-0001"), fleet.PrinterID("printer-0002")
	e1 := Env(org, site, "gw_1",
		IdentityRecord(1, p1, "3DP 1", T0),
		StatusRecord(2, p1, fleet.StatePrinting, T0.Add(time.Second)),
		EventRecord(3, p1, "LAMP-1", T0.Add(2*time.Second)),
		StatusRecord(4, p2, fleet.StateCooling, T0.Add(3*time.Second)), // p2 unknown: created
	)
	apply(t, db, e1, 4)
	apply(t, db, e1, 0)
	// Overlapping: 3 and 4 again, 5 to 7 new; 5 is an older status of p1.
	apply(t, db, Env(org, site, "gw_1", e1.Records[2], e1.Records[3],
		StatusRecord(5, p1, fleet.StateIdle, T0.Add(-time.Minute)),
		EventRecord(6, p1, "LAMP-2", T0.Add(4*time.Second)),
		GapRecord(7, p1, T0),
	), 3)
	// The same seq from another gateway is another record.
	apply(t, db, Env(org, site, "gw_2", EventRecord(3, p1, "LAMP-3", T0.Add(5*time.Second))), 1)
	events, err := db.Events(ctx, org, p1, time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, e := range events {
		codes = append(codes, e.Code)
	}
	if diff := cmp.Diff([]string{"LAMP-3", "LAMP-2", "LAMP-1"}, codes); diff != "" {
		t.Errorf("event codes (-want +got):\n%s", diff)
	}
	got, err := db.Printers(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	want := []fleet.PrinterView{
		{ID: p2, SiteID: site, State: fleet.StateCooling, Activity: "cooling", JobID: "job12345", Progress: 0.5,
			ETCSeconds: 4980, PendingJobs: 2, StatusTime: T0.Add(3 * time.Second), LastSeen: T0.Add(3 * time.Second)},
		{ID: p1, Name: "3DP 1", Model: "Jet 4200", SiteID: site, State: fleet.StatePrinting, Activity: "printing",
			JobID: "job12345", Progress: 0.5, ETCSeconds: 4980, PendingJobs: 2, StatusTime: T0.Add(time.Second),
			LastSeen: T0.Add(5 * time.Second)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Printers (-want +got):\n%s", diff)
	}
	// A newer status replaces the stored one; an older identity does not
	// overwrite a newer one.
	apply(t, db, Env(org, site, "gw_1",
		StatusRecord(8, p1, fleet.StateIdle, T0.Add(time.Hour)),
		IdentityRecord(9, p1, "renamed by old record", T0.Add(-time.Hour)),
	), 2)
	got, err = db.Printers(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].State != fleet.StateIdle || got[1].Name != "3DP 1" {
		t.Errorf("after update: state %s name %q, want idle, 3DP 1", got[1].State, got[1].Name)
	}
	// A printer moved to another site of the same org follows the gateway.
	site2, err := db.CreateSite(ctx, org, "Second plant")
	if err != nil {
		t.Fatal(err)
	}
	apply(t, db, Env(org, site2, "gw_3", StatusRecord(1, p2, fleet.StateIdle, T0.Add(time.Hour))), 1)
	det, err := db.PrinterDetail(ctx, org, p2)
	if err != nil || det.View.SiteID != site2 {
		t.Errorf("moved printer: site %q, %v; want %q", det.View.SiteID, err, site2)
	}
}

func testApplyCrossOrg(t *testing.T, db Store) {
	ctx := t.Context()
	orgA, siteA := tenant(t, db, "A")
	orgB, siteB := tenant(t, db, "B")
	const p = fleet.PrinterID("printer-aaaa")
	apply(t, db, Env(orgA, siteA, "gw_a", IdentityRecord(1, p, "A's printer", T0), StatusRecord(2, p, fleet.StatePrinting, T0)), 2)
	before, err := db.PrinterDetail(ctx, orgA, p)
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.ApplyEnvelope(ctx, Env(orgB, siteB, "gw_b",
		IdentityRecord(1, p, "stolen", T0.Add(time.Hour)),
		StatusRecord(2, p, fleet.StateError, T0.Add(time.Hour)),
		EventRecord(3, p, "X", T0.Add(time.Hour)),
		GapRecord(4, p, T0),
		JobRecord(5, p, "job-b", fleet.JobFailed, T0, T0.Add(time.Hour)),
		LayerRecord(6, p, "job-b", 1, T0.Add(time.Hour)),
		LogRecord(7, p, fleet.LogSession, "x", T0.Add(time.Hour)),
		CountersRecord(8, p, 1, T0.Add(time.Hour)),
		StatusRecord(9, "printer-bbbb", fleet.StateIdle, T0.Add(time.Hour)), // B's own: applied
	))
	var rej *fleet.RejectedError
	if !errors.As(err, &rej) || len(rej.Errs) != 8 {
		t.Fatalf("err = %v, want a RejectedError of 8 records", err)
	}
	if !errors.Is(err, fleet.ErrConflict) || !errors.Is(err, fleet.ErrRejected) {
		t.Errorf("err = %v, want it to match ErrConflict and ErrRejected", err)
	}
	if n != 1 {
		t.Errorf("applied = %d, want 1", n)
	}
	after, err := db.PrinterDetail(ctx, orgA, p)
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
	for name, fn := range map[string]func() (int, error){
		"events": func() (int, error) {
			e, err := db.Events(ctx, orgA, p, time.Time{}, time.Time{}, 0)
			return len(e), err
		},
		"jobs":   func() (int, error) { j, err := db.Jobs(ctx, orgA, fleetquery.JobFilter{}); return len(j), err },
		"layers": func() (int, error) { l, err := db.JobLayers(ctx, orgA, p, "job-b"); return len(l), err },
		"logs": func() (int, error) {
			l, err := db.Logs(ctx, orgA, p, fleet.LogSession, time.Time{}, time.Time{}, 0)
			return len(l), err
		},
	} {
		if n, err := fn(); n != 0 || err != nil {
			t.Errorf("%s of A's printer: %d, %v; want none", name, n, err)
		}
	}
	// Resending reports the same rejection and changes nothing.
	n, err = db.ApplyEnvelope(ctx, Env(orgB, siteB, "gw_b", StatusRecord(2, p, fleet.StateError, T0.Add(time.Hour))))
	if !errors.As(err, &rej) || n != 0 {
		t.Errorf("resend = %d, %v; want 0 and a rejection", n, err)
	}
}

func testApplyRejects(t *testing.T, db Store) {
	ctx := t.Context()
	org, site := tenant(t, db, "A")
	orgB, _ := tenant(t, db, "B")
	const p = fleet.PrinterID("printer-aaaa")
	bad := StatusRecord(1, p, fleet.StatePrinting, T0)
	bad.Status.Progress = 2
	bigEvent := EventRecord(3, p, "X", T0)
	bigEvent.Event.Seq = 1 << 63
	bigGap := GapRecord(4, p, T0)
	bigGap.Gap.ToSeq = 1 << 63
	bigLayer := LayerRecord(5, p, "job-1", 1, T0)
	bigLayer.Layer.Seq = 1 << 63
	badLayer := LayerRecord(6, p, "job-1", 0, T0)
	bigLog := LogRecord(7, p, fleet.LogSession, "x", T0)
	bigLog.Log.Seq = 1 << 63
	badJob := JobRecord(8, p, "job 1", fleet.JobQueued, T0, T0)
	tests := []struct {
		name string
		env  fleet.Envelope
	}{
		{"no org", Env("", site, "gw", StatusRecord(1, p, fleet.StateIdle, T0))},
		{"no gateway", Env(org, site, "", StatusRecord(1, p, fleet.StateIdle, T0))},
		{"site of another org", Env(orgB, site, "gw", StatusRecord(1, p, fleet.StateIdle, T0))},
		{"unknown site", Env(org, "site_x", "gw", StatusRecord(1, p, fleet.StateIdle, T0))},
		{"invalid record", Env(org, site, "gw", bad)},
		{"seq too large", Env(org, site, "gw", StatusRecord(1<<63, p, fleet.StateIdle, T0))},
		{"event seq too large", Env(org, site, "gw", bigEvent)},
		{"gap bounds too large", Env(org, site, "gw", bigGap)},
		{"layer seq too large", Env(org, site, "gw", bigLayer)},
		{"invalid layer", Env(org, site, "gw", badLayer)},
		{"log seq too large", Env(org, site, "gw", bigLog)},
		{"invalid job", Env(org, site, "gw", badJob)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := db.ApplyEnvelope(ctx, tt.env)
			var rej *fleet.RejectedError
			if !errors.As(err, &rej) {
				t.Fatalf("err = %v, want *fleet.RejectedError", err)
			}
			if !errors.Is(err, fleet.ErrRejected) {
				t.Errorf("err = %v does not match fleet.ErrRejected", err)
			}
			if n != 0 {
				t.Errorf("applied = %d, want 0", n)
			}
		})
	}
	if got, err := db.Printers(ctx, org); err != nil || len(got) != 0 {
		t.Errorf("printers after rejected envelopes = %v, %v; want none", got, err)
	}
	// Nothing of the rejected records was remembered as received.
	apply(t, db, Env(org, site, "gw", StatusRecord(1, p, fleet.StateIdle, T0), EventRecord(3, p, "X", T0),
		LayerRecord(5, p, "job-1", 1, T0), LogRecord(7, p, fleet.LogSession, "x", T0)), 4)
}

func testApplyCancelled(t *testing.T, db Store) {
	org, site := tenant(t, db, "A")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, rec := range []fleet.Record{StatusRecord(1, "printer-aaaa", fleet.StateIdle, T0), LayerRecord(2, "printer-aaaa", "job-1", 1, T0)} {
		_, err := db.ApplyEnvelope(ctx, Env(org, site, "gw", rec))
		if err == nil || errors.Is(err, fleet.ErrRejected) {
			t.Errorf("%s: err = %v, want a retryable error", rec.Kind, err)
		}
	}
	// Nothing was written: the records apply now.
	apply(t, db, Env(org, site, "gw", StatusRecord(1, "printer-aaaa", fleet.StateIdle, T0),
		LayerRecord(2, "printer-aaaa", "job-1", 1, T0)), 2)
}

func testAllKinds(t *testing.T, db Store) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	const p = fleet.PrinterID("printer-0001")
	job := JobRecord(2, p, "job-1", fleet.JobPrinting, T0, T0)
	part := PartRecord(3, p, "job-1", "part-1", fleet.PartPending, T0)
	var layers []fleet.Record
	for i := 3; i >= 1; i-- { // out of order on purpose
		layers = append(layers, LayerRecord(uint64(10+i), p, "job-1", i, T0.Add(time.Duration(i)*10*time.Second)))
	}
	e := Env(org, site, "gw", append([]fleet.Record{
		IdentityRecord(1, p, "3DP 1", T0), job, part,
		CountersRecord(4, p, 10, T0), CountersRecord(5, p, 11, T0.Add(time.Hour)),
		ConsumablesRecord(6, p, 40, T0), ConsumablesRecord(7, p, 41, T0.Add(time.Hour)),
		LogRecord(8, p, fleet.LogSession, "session opened", T0),
		LogRecord(9, p, fleet.LogPrinthead, "printhead 1 ok", T0.Add(time.Second)),
		GapRecord(10, p, T0),
	}, layers...)...)
	apply(t, db, e, 13)
	apply(t, db, e, 0)
	// Newest job and part report wins, whatever the order of arrival.
	done := JobRecord(20, p, "job-1", fleet.JobCompleted, T0, T0.Add(2*time.Hour))
	stale := JobRecord(21, p, "job-1", fleet.JobFailed, T0, T0.Add(time.Minute))
	passed := PartRecord(22, p, "job-1", "part-1", fleet.PartPass, T0.Add(2*time.Hour))
	staleP := PartRecord(23, p, "job-1", "part-1", fleet.PartWarp, T0.Add(time.Minute))
	oldCounters := CountersRecord(24, p, 9, T0.Add(-time.Hour))
	apply(t, db, Env(org, site, "gw", done, stale, passed, staleP, oldCounters), 5)

	jobs, err := db.Jobs(ctx, org, fleetquery.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleetquery.PrinterJob{{PrinterID: p, Job: *done.Job}}, jobs); diff != "" {
		t.Errorf("Jobs (-want +got):\n%s", diff)
	}
	parts, err := db.JobParts(ctx, org, p, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.Part{*passed.Part}, parts); diff != "" {
		t.Errorf("JobParts (-want +got):\n%s", diff)
	}
	gotLayers, err := db.JobLayers(ctx, org, p, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	wantLayers := []fleet.Layer{*layers[2].Layer, *layers[1].Layer, *layers[0].Layer}
	if diff := cmp.Diff(wantLayers, gotLayers); diff != "" {
		t.Errorf("JobLayers (-want +got):\n%s", diff)
	}
	if l, err := db.JobLayers(ctx, org, p, "job-unknown"); err != nil || len(l) != 0 {
		t.Errorf("layers of unknown job = %v, %v; want none", l, err)
	}

	det, err := db.PrinterDetail(ctx, org, p)
	if err != nil {
		t.Fatal(err)
	}
	wantDet := fleetquery.PrinterDetail{
		View:     fleet.PrinterView{ID: p, Name: "3DP 1", Model: "Jet 4200", SiteID: site, LastSeen: T0.Add(2 * time.Hour)},
		Identity: e.Records[0].Identity, Counters: e.Records[4].Counters, Consumables: e.Records[6].Consumables,
	}
	if diff := cmp.Diff(wantDet, det); diff != "" {
		t.Errorf("PrinterDetail (-want +got):\n%s", diff)
	}

	counters, err := db.CountersHistory(ctx, org, p, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.Counters{*oldCounters.Counters, *e.Records[3].Counters, *e.Records[4].Counters}, counters); diff != "" {
		t.Errorf("CountersHistory (-want +got):\n%s", diff)
	}
	cons, err := db.ConsumablesHistory(ctx, org, p, T0.Add(time.Minute), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.Consumables{*e.Records[6].Consumables}, cons); diff != "" {
		t.Errorf("ConsumablesHistory from T0+1m (-want +got):\n%s", diff)
	}
	cons, err = db.ConsumablesHistory(ctx, org, p, time.Time{}, T0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.Consumables{*e.Records[5].Consumables}, cons); diff != "" {
		t.Errorf("ConsumablesHistory to T0+1h (-want +got):\n%s", diff)
	}

	logs, err := db.Logs(ctx, org, p, fleet.LogPrinthead, time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.LogLine{*e.Records[8].Log}, logs); diff != "" {
		t.Errorf("Logs (-want +got):\n%s", diff)
	}
}

func testJobs(t *testing.T, db Store) {
	ctx := t.Context()
	org, site := tenant(t, db, "Acme")
	const p1, p2 = fleet.PrinterID("printer-0001"), fleet.PrinterID("printer-0002")
	var recs []fleet.Record
	for i := range 6 {
		p := p1
		if i%2 == 1 {
			p = p2
		}
		created := T0.Add(time.Duration(i) * 24 * time.Hour)
		recs = append(recs, JobRecord(uint64(i+1), p, "job-"+string(rune('a'+i)), fleet.JobCompleted, created, created))
	}
	apply(t, db, Env(org, site, "gw", recs...), 6)
	ids := func(jobs []fleetquery.PrinterJob) []string {
		var out []string
		for _, j := range jobs {
			out = append(out, string(j.PrinterID)+"/"+j.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    fleetquery.JobFilter
		want []string
	}{
		{"all", fleetquery.JobFilter{}, []string{"printer-0002/job-f", "printer-0001/job-e", "printer-0002/job-d",
			"printer-0001/job-c", "printer-0002/job-b", "printer-0001/job-a"}},
		{"printer", fleetquery.JobFilter{PrinterID: p1}, []string{"printer-0001/job-e", "printer-0001/job-c", "printer-0001/job-a"}},
		{"range", fleetquery.JobFilter{From: T0.Add(24 * time.Hour), To: T0.Add(3 * 24 * time.Hour)},
			[]string{"printer-0001/job-c", "printer-0002/job-b"}},
		{"limit", fleetquery.JobFilter{Limit: 2}, []string{"printer-0002/job-f", "printer-0001/job-e"}},
		{"unknown printer", fleetquery.JobFilter{PrinterID: "printer-9999"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Jobs(ctx, org, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("Jobs (-want +got):\n%s", diff)
			}
		})
	}
	events := []fleet.Record{EventRecord(10, p1, "E1", T0), EventRecord(11, p1, "E2", T0.Add(time.Minute)), EventRecord(12, p1, "E3", T0.Add(2*time.Minute))}
	apply(t, db, Env(org, site, "gw", events...), 3)
	got, err := db.Events(ctx, org, p1, T0.Add(time.Second), time.Time{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.Event{*events[2].Event}, got); diff != "" {
		t.Errorf("Events limit 1 (-want +got):\n%s", diff)
	}
}

func testTenantIsolation(t *testing.T, db Store) {
	ctx := t.Context()
	orgA, siteA := tenant(t, db, "A")
	orgB, _ := tenant(t, db, "B")
	const p = fleet.PrinterID("printer-aaaa")
	apply(t, db, Env(orgA, siteA, "gw", IdentityRecord(1, p, "A1", T0), StatusRecord(2, p, fleet.StateIdle, T0),
		JobRecord(3, p, "job-1", fleet.JobPrinting, T0, T0), PartRecord(4, p, "job-1", "part-1", fleet.PartPass, T0),
		LayerRecord(5, p, "job-1", 1, T0), CountersRecord(6, p, 1, T0), ConsumablesRecord(7, p, 1, T0),
		EventRecord(8, p, "E", T0), LogRecord(9, p, fleet.LogSession, "x", T0)), 9)
	open := time.Time{}
	notFound := []errCase{
		{"PrinterDetail", func() error { _, err := db.PrinterDetail(ctx, orgB, p); return err }, fleet.ErrNotFound},
		{"JobParts", func() error { _, err := db.JobParts(ctx, orgB, p, "job-1"); return err }, fleet.ErrNotFound},
		{"JobLayers", func() error { _, err := db.JobLayers(ctx, orgB, p, "job-1"); return err }, fleet.ErrNotFound},
		{"CountersHistory", func() error { _, err := db.CountersHistory(ctx, orgB, p, open, open); return err }, fleet.ErrNotFound},
		{"ConsumablesHistory", func() error { _, err := db.ConsumablesHistory(ctx, orgB, p, open, open); return err }, fleet.ErrNotFound},
		{"Events", func() error { _, err := db.Events(ctx, orgB, p, open, open, 0); return err }, fleet.ErrNotFound},
		{"Logs", func() error { _, err := db.Logs(ctx, orgB, p, fleet.LogSession, open, open, 0); return err }, fleet.ErrNotFound},
		{"unknown printer", func() error { _, err := db.PrinterDetail(ctx, orgA, "printer-none"); return err }, fleet.ErrNotFound},
	}
	checkErrs(t, notFound)
	if got, err := db.Printers(ctx, orgB); err != nil || len(got) != 0 {
		t.Errorf("Printers(B) = %v, %v; want none", got, err)
	}
	for _, f := range []fleetquery.JobFilter{{}, {PrinterID: p}} {
		if got, err := db.Jobs(ctx, orgB, f); err != nil || len(got) != 0 {
			t.Errorf("Jobs(B, %+v) = %v, %v; want none", f, got, err)
		}
	}
	// A sees all of it.
	if got, err := db.Jobs(ctx, orgA, fleetquery.JobFilter{PrinterID: p}); err != nil || len(got) != 1 {
		t.Errorf("Jobs(A) = %v, %v; want one", got, err)
	}
}

func testPrune(t *testing.T, db Store) {
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

func testClosed(t *testing.T, db Store) {
	ctx := t.Context()
	org, site := tenant(t, db, "A")
	if got, err := db.Printers(ctx, org); err != nil || len(got) != 0 {
		t.Errorf("Printers of new org = %v, %v; want none", got, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	open := time.Time{}
	checkErrs(t, []errCase{
		{"Printers", func() error { _, err := db.Printers(ctx, org); return err }, nil},
		{"Sites", func() error { _, err := db.Sites(ctx, org); return err }, nil},
		{"CreateOrg", func() error { _, err := db.CreateOrg(ctx, "x"); return err }, nil},
		{"ApplyEnvelope", func() error {
			_, err := db.ApplyEnvelope(ctx, Env(org, site, "gw", StatusRecord(1, "printer-aaaa", fleet.StateIdle, T0)))
			if errors.Is(err, fleet.ErrRejected) {
				return errors.New("closed store rejected the envelope for good")
			}
			return err
		}, nil},
		{"Jobs", func() error { _, err := db.Jobs(ctx, org, fleetquery.JobFilter{}); return err }, nil},
		{"Events", func() error { _, err := db.Events(ctx, org, "printer-aaaa", open, open, 0); return err }, nil},
		{"Prune", func() error { _, err := db.Prune(ctx, T0, retention.Retention{}); return err }, nil},
	})
	for name, fn := range map[string]func() error{
		"UserByName":    func() error { _, _, err := db.UserByName(ctx, "x"); return err },
		"SessionUser":   func() error { _, err := db.SessionUser(ctx, "x", T0); return err },
		"RevokeGateway": func() error { return db.RevokeGateway(ctx, "gw") },
		"PrinterDetail": func() error { _, err := db.PrinterDetail(ctx, org, "printer-aaaa"); return err },
		"DeleteSession": func() error { return db.DeleteSession(ctx, "x") },
	} {
		if err := fn(); err == nil || errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("%s on closed store = %v, want a non-NotFound error", name, err)
		}
	}
}
