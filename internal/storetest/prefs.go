package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// testPrefs: a user's display preferences are stored per user, come back
// with Member, Members and SessionMember, are refused when invalid or for
// another organisation's user (leaving the stored ones as they were), and
// go with the user.
func testPrefs(t *testing.T, db Store) {
	ctx := t.Context()
	org, _ := tenant(t, db, "A")
	other, _ := tenant(t, db, "B")
	admin, err := db.CreateMember(ctx, org, "ada", "h", fleet.RoleAdmin, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	uid, err := db.CreateMember(ctx, org, "vic", "h", fleet.RoleViewer, access.AllSites())
	if err != nil {
		t.Fatal(err)
	}
	prefsOf := func(t *testing.T) fleet.Prefs {
		t.Helper()
		m, err := db.Member(ctx, org, uid)
		if err != nil {
			t.Fatal(err)
		}
		return m.Prefs
	}
	if got := prefsOf(t); got != (fleet.Prefs{}) {
		t.Errorf("prefs before any are set = %+v, want zero", got)
	}
	berlin := fleet.Prefs{Lang: "de", TimeZone: "Europe/Berlin"}
	steps := []struct {
		name string
		set  fleet.Prefs
		want fleet.Prefs
	}{
		{"first", berlin, berlin},
		{"overwrite", fleet.Prefs{Lang: "en", TimeZone: "America/New_York"}, fleet.Prefs{Lang: "en", TimeZone: "America/New_York"}},
		{"back to defaults", fleet.Prefs{}, fleet.Prefs{}},
		{"again", berlin, berlin},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := db.SetPrefs(ctx, org, uid, s.set); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s.want, prefsOf(t)); diff != "" {
				t.Errorf("Member prefs (-want +got):\n%s", diff)
			}
		})
	}

	if err := db.CreateSession(ctx, "s-vic", uid, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	m, err := db.SessionMember(ctx, "s-vic", T0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(berlin, m.Prefs); diff != "" {
		t.Errorf("SessionMember prefs (-want +got):\n%s", diff)
	}
	ms, err := db.Members(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	got := map[fleet.UserID]fleet.Prefs{}
	for _, m := range ms {
		got[m.ID] = m.Prefs
	}
	if diff := cmp.Diff(map[fleet.UserID]fleet.Prefs{admin: {}, uid: berlin}, got); diff != "" {
		t.Errorf("Members prefs (-want +got):\n%s", diff)
	}

	for _, bad := range []fleet.Prefs{
		{TimeZone: "Mars/Olympus_Mons"}, {TimeZone: "../../etc/passwd"}, {TimeZone: "Local"},
		{Lang: "DE"}, {Lang: "deutsch-lang"},
	} {
		if err := db.SetPrefs(ctx, org, uid, bad); err == nil {
			t.Errorf("SetPrefs(%+v) succeeded", bad)
		}
	}
	checkErrs(t, []errCase{
		{"other organisation", func() error { return db.SetPrefs(ctx, other, uid, fleet.Prefs{Lang: "en"}) }, fleet.ErrNotFound},
		{"unknown user", func() error { return db.SetPrefs(ctx, org, "usr_nobody", fleet.Prefs{Lang: "en"}) }, fleet.ErrNotFound},
	})
	if diff := cmp.Diff(berlin, prefsOf(t)); diff != "" {
		t.Errorf("prefs after refused changes (-want +got):\n%s", diff)
	}

	if err := db.DeleteMember(ctx, org, uid); err != nil {
		t.Fatalf("delete a user with prefs: %v", err)
	}
	if _, err := db.Member(ctx, org, uid); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("Member after delete: %v, want ErrNotFound", err)
	}
}
