package localui

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/selfupdate"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// fakeMirror is an update mirror holding fixed releases.
type fakeMirror struct {
	targets []update.MirroredTarget
	halted  []string
}

func (m fakeMirror) Targets() []update.MirroredTarget { return m.targets }
func (m fakeMirror) Halted() []string                 { return m.halted }

func release(name, version string) update.MirroredTarget {
	return update.MirroredTarget{Name: name, Length: 10, SHA256: strings.Repeat("ab", 32),
		Release: update.Release{Kind: update.KindFirmware, Version: version, Models: []string{"PBF 5200"}, Notes: "fixes <things>"}}
}

func post(t *testing.T, h http.Handler, path string, form url.Values, crossSite bool) *http.Response {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), "POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = "localhost"
	if crossSite {
		req.Header.Set("Sec-Fetch-Site", "cross-site")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestUpdatePages(t *testing.T) {
	st := handlerStore(t)
	m := fakeMirror{targets: []update.MirroredTarget{release("firmware-5.1.0-fw.bin", "5.1.0"), release("firmware-5.2.0-fw.bin", "5.2.0")},
		halted: []string{"firmware-5.2.0-fw.bin"}}
	clk := clock.NewManual(handlerNow)
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clk, Updates: m})
	mirror := commandcenter.NewMirrorHandler(st, m, http.NotFoundHandler(), clk)
	approvals := func() []string {
		t.Helper()
		res, body := get(t, mirror, "GET", "/tuf/approvals.json")
		var doc struct{ Approved []string }
		if res.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &doc) != nil {
			t.Fatalf("approvals.json = %d %s", res.StatusCode, body)
		}
		return doc.Approved
	}

	res, body := get(t, h, "GET", "/updates")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /updates = %d", res.StatusCode)
	}
	containsAll(t, "updates page", body, "firmware-5.1.0-fw.bin", "waits for an approval", "halted by the cloud", "fixes &lt;things&gt;",
		`action="/updates/firmware-5.1.0-fw.bin/approve"`)
	if strings.Contains(body, `action="/updates/firmware-5.2.0-fw.bin/approve"`) {
		t.Error("a halted release can be approved")
	}
	if got := approvals(); len(got) != 0 {
		t.Errorf("before approval printers may install %v", got)
	}

	// Forms from another site are refused and change nothing.
	if res := post(t, h, "/updates/firmware-5.1.0-fw.bin/approve", nil, true); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site approve = %d, want 403", res.StatusCode)
	}
	if res := post(t, h, "/updates/firmware-9.9.9-fw.bin/approve", nil, false); res.StatusCode != http.StatusNotFound {
		t.Errorf("approve of an unknown release = %d, want 404", res.StatusCode)
	}
	if got := approvals(); len(got) != 0 {
		t.Errorf("after refused forms printers may install %v", got)
	}

	if res := post(t, h, "/updates/firmware-5.1.0-fw.bin/approve", nil, false); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve = %d, want 303", res.StatusCode)
	}
	if got := approvals(); !slices.Equal(got, []string{"firmware-5.1.0-fw.bin"}) {
		t.Errorf("after approval printers may install %v", got)
	}
	// The cloud halting a release overrides an approval; notify-only
	// mode holds everything.
	if res := post(t, h, "/updates/firmware-5.2.0-fw.bin/approve", nil, false); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve halted = %d", res.StatusCode)
	}
	if got := approvals(); slices.Contains(got, "firmware-5.2.0-fw.bin") {
		t.Error("a halted release is installable")
	}
	policy := func(mode string, weekday, start, hours string) *http.Response {
		return post(t, h, "/updates/policy", url.Values{"mode": {mode}, "weekday": {weekday}, "start_hour": {start}, "hours": {hours}}, false)
	}
	if res := policy("notify", "6", "2", "4"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("set policy = %d", res.StatusCode)
	}
	if got := approvals(); len(got) != 0 {
		t.Errorf("notify-only site: printers may install %v", got)
	}

	// Maintenance window: every release not halted, inside it only.
	if res := post(t, h, "/updates/firmware-5.1.0-fw.bin/withdraw", nil, false); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("withdraw = %d", res.StatusCode)
	}
	wd := handlerNow.Weekday()
	if res := policy("window", string(rune('0'+wd)), "0", "24"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("set window policy = %d", res.StatusCode)
	}
	if got := approvals(); !slices.Equal(got, []string{"firmware-5.1.0-fw.bin"}) {
		t.Errorf("in the window printers may install %v", got)
	}
	clk.Advance(24 * time.Hour)
	if got := approvals(); len(got) != 0 {
		t.Errorf("outside the window printers may install %v", got)
	}

	// A bad policy is refused with its reason and the last one stays.
	for _, bad := range [][4]string{{"sometimes", "1", "2", "3"}, {"window", "9", "2", "3"}, {"window", "1", "x", "3"}} {
		res := policy(bad[0], bad[1], bad[2], bad[3])
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("policy %v = %d, want 400", bad, res.StatusCode)
		}
	}
	if p, err := st.UpdatePolicy(t.Context()); err != nil || p.Mode != commandcenter.UpdateWindow || p.Hours != 24 {
		t.Errorf("policy after refused forms = %+v, %v", p, err)
	}

	var api struct {
		Policy   commandcenter.UpdatePolicy `json:"policy"`
		Releases []commandcenter.Release    `json:"releases"`
	}
	getJSON(t, h, "/api/updates", &api)
	if api.Policy.Mode != commandcenter.UpdateWindow || len(api.Releases) != 2 || !api.Releases[1].Halted {
		t.Errorf("GET /api/updates = %+v", api)
	}
	if res, _ := get(t, mirror, "POST", "/tuf/approvals.json"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to the mirror = %d, want 405", res.StatusCode)
	}

	off := NewHandler(SourcesOf(st), HandlerOptions{Clock: clk})
	if res, body := get(t, off, "GET", "/updates"); res.StatusCode != http.StatusOK || !strings.Contains(body, "not configured") {
		t.Errorf("updates off: GET /updates = %d", res.StatusCode)
	}
	if res, _ := get(t, off, "GET", "/api/updates"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("updates off: GET /api/updates = %d, want 503", res.StatusCode)
	}
}

// A saved policy or approval says so in the notice style, not in the
// green text of a printer's state nor the banner of a fault.
func TestUpdateNoticeStyle(t *testing.T) {
	b, err := fs.ReadFile(templateFS, "templates/updates.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `<p class="notice" role="status">`) {
		t.Error("the updates page's notice has not the notice style")
	}
	css, err := fs.ReadFile(staticFS, "static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(css), ".notice {") {
		t.Error("the stylesheet has no notice style")
	}
}

// The Updates page shows the Command Center's own version and upgrades,
// and never offers its own builds to the printers.
func TestUpdatesPageShowsSelfUpdate(t *testing.T) {
	st := handlerStore(t)
	own := update.MirroredTarget{Name: "commandcenter-1.2.0-fusionfleet", Length: 10, SHA256: strings.Repeat("ab", 32),
		Release: update.Release{Kind: update.KindCommandCenter, Version: "1.2.0", Models: []string{"linux/amd64"}}}
	m := fakeMirror{targets: []update.MirroredTarget{release("firmware-5.1.0-fw.bin", "5.1.0"), own}}
	at := handlerNow
	for _, tc := range []struct {
		name   string
		status selfupdate.Status
		want   []string
		not    []string
	}{
		{"committed", selfupdate.Status{Version: "1.1.0", Enabled: true,
			Last: &selfupdate.Outcome{From: "1.0.0", To: "1.1.0", Result: "committed", At: at}},
			[]string{"Version 1.1.0.", "It updates itself", "Last upgrade: 1.0.0 to 1.1.0, committed."}, []string{"under way"}},
		{"on trial", selfupdate.Status{Version: "1.2.0", Enabled: true, Phase: selfupdate.PhaseTrial, Pending: "1.2.0"},
			[]string{"Upgrade to 1.2.0 under way"}, nil},
		{"rolled back", selfupdate.Status{Version: "1.1.0", Refused: []string{own.Name},
			Last: &selfupdate.Outcome{From: "1.1.0", To: "1.2.0", Result: "rolled back", Reason: "1.2.0 did not become healthy in 3 starts", At: at}},
			[]string{"Self-update is off.", "Last upgrade: 1.1.0 to 1.2.0, rolled back: 1.2.0 did not become healthy in 3 starts",
				"Releases refused, never tried again: " + own.Name}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clock.NewManual(handlerNow), Updates: m,
				SelfUpdate: func() selfupdate.Status { return tc.status }})
			res, body := get(t, h, "GET", "/updates")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET /updates = %d", res.StatusCode)
			}
			containsAll(t, "updates page", body, tc.want...)
			for _, w := range tc.not {
				if strings.Contains(body, w) {
					t.Errorf("updates page says %q", w)
				}
			}
			if strings.Contains(body, `action="/updates/`+own.Name+`/approve"`) {
				t.Error("the Command Center's own build is offered to the printers")
			}
		})
	}
	res, body := get(t, NewHandler(SourcesOf(st), HandlerOptions{Updates: m}), "GET", "/updates")
	if res.StatusCode != http.StatusOK || strings.Contains(body, "This Command Center") {
		t.Errorf("without SelfUpdate the page shows a self-update section (%d)", res.StatusCode)
	}
}
