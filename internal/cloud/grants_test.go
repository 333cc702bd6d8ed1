package cloud

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fusionfleet/fusionfleet/internal/access"
	"github.com/fusionfleet/fusionfleet/internal/audit"
	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
)

// auditLog keeps the events the nodes record.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

func (l *auditLog) Record(_ context.Context, e audit.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	return nil
}

func (l *auditLog) actions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, e.Action)
	}
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
	log := &auditLog{}
	opts := Options{DataDir: t.TempDir(), DB: dbURL, DashboardListen: "127.0.0.1:0", Registry: prometheus.NewRegistry(), Audit: log}
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
	if got := strings.Join(log.actions(), " "); got != "grant.create grant.revoke" {
		t.Errorf("audit actions %q, want grant.create grant.revoke", got)
	}
}
