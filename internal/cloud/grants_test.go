package cloud

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
)

// grantActions lists the grant entries in org's audit log, oldest first,
// a run of requests under a grant as one.
func grantActions(t *testing.T, n *Node, org fleet.OrgID) []string {
	t.Helper()
	var out []string
	err := n.store.AuditEntries(t.Context(), org, audit.Filter{Action: "grant."}, func(e audit.Entry) error {
		if e.Action != audit.ActionGrantAccess || len(out) == 0 || out[len(out)-1] != e.Action {
			out = append(out, e.Action) // the provider's requests under the grant, once
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(out) // newest first as read
	return out
}

// postForm posts a dashboard form with the page's CSRF token, following
// the redirect, and returns the final status and body.
func postForm(t *testing.T, c *http.Client, base, path, csrf string, form url.Values) (int, string) {
	t.Helper()
	form.Set("csrf", csrf)
	req, _ := http.NewRequest(http.MethodPost, base+strings.TrimPrefix(path, "/"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", strings.TrimSuffix(base, "/"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func jarClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// Two cloud nodes on one PostgreSQL database: a customer's admin gives a
// service provider a grant through one node, the provider's engineer
// acts under it through the other, and once the admin revokes it on the
// first node the engineer's next request on the second is refused. No
// node keeps a copy of a grant beyond a request. Both changes reach the
// audit log.
func TestGrantRevokedOnEveryNode(t *testing.T) {
	dbURL := pgtest.FreshDB(t)
	ctx := t.Context()
	opts := Options{DataDir: t.TempDir(), DB: dbURL, DashboardListen: "127.0.0.1:0", Registry: prometheus.NewRegistry()}
	first := start(t, opts)
	opts.DataDir, opts.Registry = t.TempDir(), prometheus.NewRegistry()
	second := start(t, opts)

	user, password, _, err := first.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	provider, fixerPassword, err := NewOrg(ctx, "", dbURL, "Fixers", access.OrgServiceProvider, "fixer")
	if err != nil {
		t.Fatal(err)
	}
	admin, engineer := jarClient(t), jarClient(t)
	b1, b2 := first.DashboardURL(), second.DashboardURL()
	logIn(t, admin, b1, user, password)
	logIn(t, engineer, b2, "fixer", fixerPassword)

	_, page := get(t, admin, b1+"admin/grants")
	csrf := csrfField.FindStringSubmatch(page)[1]
	now := time.Now().UTC()
	status, page := postForm(t, admin, b1, "/admin/grants", csrf, url.Values{"provider": {string(provider)}, "scope": {"status"},
		"starts": {now.Add(-time.Minute).Format("2006-01-02T15:04")}, "expires": {now.Add(24 * time.Hour).Format("2006-01-02T15:04")}})
	m := regexp.MustCompile(`data-grant-id="(grt_[0-9a-f]+)"`).FindStringSubmatch(page)
	if status != http.StatusOK || m == nil {
		t.Fatalf("give access: %d\n%.2000s", status, page)
	}
	grant := m[1]

	_, page = get(t, engineer, b2+"customers")
	if !strings.Contains(page, "Demo Print Shop") {
		t.Fatalf("the engineer's customers page lacks the customer:\n%.2000s", page)
	}
	status, page = postForm(t, engineer, b2, "/customers/"+grant+"/open", csrfField.FindStringSubmatch(page)[1], url.Values{})
	if status != http.StatusOK || !strings.Contains(page, "data-acting") || !strings.Contains(page, "Demo Print Shop") {
		t.Fatalf("acting for the customer on the second node: %d\n%.2000s", status, page)
	}

	if status, page := postForm(t, admin, b1, "/admin/grants/"+grant+"/revoke", csrf, url.Values{}); status != http.StatusOK || !strings.Contains(page, "revoked") {
		t.Fatalf("revoke on the first node: %d\n%.2000s", status, page)
	}
	if status, page := get(t, engineer, b2); status != http.StatusForbidden || !strings.Contains(page, "has ended") {
		t.Errorf("the second node after the revocation: %d, want 403\n%.1000s", status, page)
	}
	u, _, err := first.store.UserByName(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(grantActions(t, second, u.OrgID), " "); got != "grant.create grant.access grant.revoke" {
		t.Errorf("audit actions %q, want grant.create grant.access grant.revoke", got)
	}
}
