package restapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
)

// hashOf is the stored password hash of the user called name.
func (f *fixture) hashOf(t *testing.T, name string) string {
	t.Helper()
	_, hash, err := f.db.UserByName(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return hash
}

// No API token changes a password, whatever its scope: a stolen token
// must not become the account.
func TestTokenCannotChangePassword(t *testing.T) {
	f := newFixture(t)
	before := f.hashOf(t, "CanaryAlpha-admin")
	for _, who := range []string{"admin", "viewer", "read"} {
		status, body := f.do(t, "PUT", "/api/v1/account/password", f.a.tokens[who], `{"current":"x","new":"a new passphrase"}`)
		if status != 403 || !strings.Contains(body, "change a password") {
			t.Errorf("%s token: %d %s, want 403 with the reason", who, status, body)
		}
	}
	if f.hashOf(t, "CanaryAlpha-admin") != before {
		t.Error("the password changed")
	}
	// Nor does a token reset its owner's: that would skip the current password.
	status, body := f.do(t, "POST", "/api/v1/users/"+string(f.a.admin)+"/password", f.a.tokens["admin"], "")
	if status != 400 || !strings.Contains(body, "own password") {
		t.Errorf("own reset: %d %s, want 400", status, body)
	}
	if f.hashOf(t, "CanaryAlpha-admin") != before {
		t.Error("the password changed")
	}
}

func TestResetPasswordAPI(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	viewer, _, err := f.db.UserByName(ctx, "CanaryAlpha-viewer")
	if err != nil {
		t.Fatal(err)
	}
	limited, _, err := f.db.UserByName(ctx, "CanaryAlpha-limited")
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := f.db.UserByName(ctx, "CanaryBravo-viewer")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateSession(ctx, "viewer-session", viewer.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name   string
		token  string
		target fleet.UserID
		victim string
		status int
	}{
		{"another organisation's user", f.a.tokens["admin"], bob.ID, "CanaryBravo-viewer", 404},
		{"site admin, user of all sites", f.a.tokens["ladmin"], viewer.ID, "CanaryAlpha-viewer", 403},
		{"site admin, another organisation's user", f.a.tokens["ladmin"], bob.ID, "CanaryBravo-viewer", 404},
		{"read token", f.a.tokens["read"], viewer.ID, "CanaryAlpha-viewer", 403},
		{"operator", f.a.tokens["operator"], viewer.ID, "CanaryAlpha-viewer", 403},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := f.hashOf(t, tt.victim)
			if status, body := f.do(t, "POST", "/api/v1/users/"+string(tt.target)+"/password", tt.token, ""); status != tt.status || strings.Contains(body, "password\":") {
				t.Errorf("%d %s, want %d without a password", status, body, tt.status)
			}
			if f.hashOf(t, tt.victim) != before {
				t.Error("the password changed")
			}
		})
	}
	if _, err := f.db.SessionUser(ctx, "viewer-session", t0); err != nil {
		t.Errorf("a refused reset ended the session: %v", err)
	}
	for _, tt := range []struct {
		name, token, user string
		id                fleet.UserID
	}{
		{"admin", f.a.tokens["admin"], "CanaryAlpha-viewer", viewer.ID},
		{"site admin within its site", f.a.tokens["ladmin"], "CanaryAlpha-limited", limited.ID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.do(t, "POST", "/api/v1/users/"+string(tt.id)+"/password", tt.token, "")
			var got createdUserJSON
			if status != 200 || json.Unmarshal([]byte(body), &got) != nil {
				t.Fatalf("%d %s, want 200 with the user and password", status, body)
			}
			if ok, err := identity.CheckPassword(f.hashOf(t, tt.user), got.Password); !ok || err != nil {
				t.Errorf("the answered password is not the stored one (%v)", err)
			}
			if got.User.ID != tt.id || !got.User.MustChangePassword {
				t.Errorf("user %+v: want %s with must_change_password", got.User, tt.id)
			}
		})
	}
	if _, err := f.db.SessionUser(ctx, "viewer-session", t0); !errors.Is(err, fleet.ErrNotFound) {
		t.Errorf("session after the reset: %v, want ended", err)
	}
	// The reset user's tokens are revoked with the password; others' stay.
	if status, body := f.do(t, "GET", "/api/v1/printers", f.a.tokens["viewer"], ""); status != 401 {
		t.Errorf("the reset user's token after the reset: %d %.200s, want 401", status, body)
	}
	if status, body := f.do(t, "GET", "/api/v1/printers", f.a.tokens["operator"], ""); status != 200 {
		t.Errorf("another user's token after the reset: %d %.200s, want 200", status, body)
	}
}
