package localui

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/printer"
)

// fp returns a well-formed fingerprint made from s.
func fp(s string) deviceapi.Fingerprint {
	sum := sha256.Sum256([]byte(s))
	return deviceapi.FingerprintOf(sum[:])
}

// fakeLAN answers probes as the printers at its addresses would; other
// addresses do not answer.
type fakeLAN map[string]deviceapi.Fingerprint

func (l fakeLAN) probe(_ context.Context, addr string) (commandcenter.Found, error) {
	f, ok := l[addr]
	if !ok {
		return commandcenter.Found{}, errors.New("dial tcp: connection refused")
	}
	return commandcenter.Found{Address: addr, Fingerprint: f,
		Identity: fleet.Identity{PrinterID: "printer-00ff", Model: "PBF 5200", SerialNumber: "SN-" + addr}}, nil
}

func manageHandler(t *testing.T, st *commandcenter.Store, lan fakeLAN) http.Handler {
	t.Helper()
	return NewHandler(SourcesOf(st), HandlerOptions{Clock: clock.NewManual(handlerNow), Probe: lan.probe})
}

// send makes a request with body (JSON for the API, a form otherwise) as
// a browser on the UI's own page would, or from another site.
func send(t *testing.T, h http.Handler, method, path, body string, crossSite bool) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(body))
	req.Host = "localhost"
	if strings.HasPrefix(path, "/api/") {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if crossSite {
		req.Header.Set("Sec-Fetch-Site", "cross-site")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// printerRows returns the store's printers by address.
func printerRows(t *testing.T, st *commandcenter.Store) map[string]commandcenter.Printer {
	t.Helper()
	ps, err := st.Printers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]commandcenter.Printer{}
	for _, p := range ps {
		out[p.Address] = p
	}
	return out
}

// The API's printer management, one request at a time on a fresh store:
// what each answers, and what it changed (or, for every refusal, that it
// changed nothing).
func TestManageAPI(t *testing.T) {
	newPin := fp("new")
	lan := fakeLAN{
		"printer-e.site:8443":  fp("e"),
		"printer-a2.site:8443": "AA:BB:CC", // printer a at a new address, same certificate
		"printer-a3.site:8443": newPin,     // printer a at a new address, a new certificate
		"printer-b.site:8443":  fp("b"),    // another printer, paired already
	}
	tests := []struct {
		name      string
		path      string
		body      string
		crossSite bool
		want      int
		wantBody  []string
		check     func(t *testing.T, rows map[string]commandcenter.Printer)
	}{
		{name: "probe", path: "/api/printers/probe", body: `{"address":"printer-e.site:8443"}`, want: 200,
			wantBody: []string{string(fp("e")), "SN-printer-e.site:8443"}},
		{name: "probe a bad address", path: "/api/printers/probe", body: `{"address":"printer-e.site"}`, want: 400, wantBody: []string{"host:port"}},
		{name: "probe nothing there", path: "/api/printers/probe", body: `{"address":"printer-z.site:8443"}`, want: 502, wantBody: []string{"connection refused"}},
		{name: "probe a bad body", path: "/api/printers/probe", body: `{"addr":"x"}`, want: 400, wantBody: []string{"request body"}},
		{name: "pair", path: "/api/printers", body: `{"address":"printer-e.site:8443","fingerprint":"` + string(fp("e")) + `"}`, want: 201,
			check: func(t *testing.T, rows map[string]commandcenter.Printer) {
				if p, ok := rows["printer-e.site:8443"]; !ok || p.Fingerprint != fp("e") || p.State != commandcenter.CollectionNew {
					t.Errorf("paired printer %+v, want it pinned with %s and waiting for first contact", p, fp("e"))
				}
			}},
		{name: "pair another certificate than confirmed", path: "/api/printers", body: `{"address":"printer-e.site:8443","fingerprint":"` + string(fp("x")) + `"}`,
			want: 409, wantBody: []string{"nothing was pinned", `"fingerprint":"` + string(fp("e"))}},
		{name: "pair a bad fingerprint", path: "/api/printers", body: `{"address":"printer-e.site:8443","fingerprint":"AA:BB"}`, want: 400, wantBody: []string{"32 hex pairs"}},
		{name: "pair a paired printer", path: "/api/printers", body: `{"address":"printer-b.site:8443","fingerprint":"` + string(fp("b")) + `"}`,
			want: 409},
		{name: "pair across sites", path: "/api/printers", body: `{"address":"printer-e.site:8443","fingerprint":"` + string(fp("e")) + `"}`,
			crossSite: true, want: 403},
		{name: "rename", path: "/api/printers/1/rename", body: `{"name":"Halle 2 <links>"}`, want: 200, wantBody: []string{`"display_name":"Halle 2 \u003clinks\u003e"`},
			check: func(t *testing.T, rows map[string]commandcenter.Printer) {
				if got := rows["printer-a.site:8443"].DisplayName; got != "Halle 2 <links>" {
					t.Errorf("display name %q", got)
				}
			}},
		{name: "rename too long", path: "/api/printers/1/rename", body: `{"name":"` + strings.Repeat("x", 65) + `"}`, want: 400, wantBody: []string{"at most 64"}},
		{name: "rename without a name", path: "/api/printers/1/rename", body: `{}`, want: 400},
		{name: "rename an unknown printer", path: "/api/printers/99/rename", body: `{"name":"x"}`, want: 404},
		{name: "rename a bad ID", path: "/api/printers/x/rename", body: `{"name":"x"}`, want: 400},
		{name: "retire", path: "/api/printers/1/retire", want: 200, wantBody: []string{`"retired_at":"2025-03-01T15:00:00Z"`},
			check: func(t *testing.T, rows map[string]commandcenter.Printer) {
				if !rows["printer-a.site:8443"].Retired() {
					t.Error("printer not retired")
				}
			}},
		{name: "retire an unknown printer", path: "/api/printers/99/retire", want: 404},
		{name: "reactivate", path: "/api/printers/1/reactivate", want: 200},
		{name: "move", path: "/api/printers/1/move", body: `{"address":"printer-a2.site:8443"}`, want: 200, wantBody: []string{`"id":1`, "printer-a2.site:8443"},
			check: func(t *testing.T, rows map[string]commandcenter.Printer) {
				if p := rows["printer-a2.site:8443"]; p.ID != 1 || p.Fingerprint != "AA:BB:CC" {
					t.Errorf("moved printer %d pinned %s, want printer 1 with its pin", p.ID, p.Fingerprint)
				}
			}},
		{name: "move to a new certificate, not confirmed", path: "/api/printers/1/move", body: `{"address":"printer-a3.site:8443"}`, want: 409,
			wantBody: []string{"nothing was changed", `"fingerprint":"` + string(newPin)}},
		{name: "move to a new certificate, another confirmed", path: "/api/printers/1/move",
			body: `{"address":"printer-a3.site:8443","fingerprint":"` + string(fp("x")) + `"}`, want: 409},
		{name: "move to a new certificate, confirmed", path: "/api/printers/1/move",
			body: `{"address":"printer-a3.site:8443","fingerprint":"` + string(newPin) + `"}`, want: 200,
			check: func(t *testing.T, rows map[string]commandcenter.Printer) {
				if p := rows["printer-a3.site:8443"]; p.ID != 1 || p.Fingerprint != newPin {
					t.Errorf("moved printer %d pinned %s, want printer 1 with %s", p.ID, p.Fingerprint, newPin)
				}
			}},
		{name: "move onto another printer", path: "/api/printers/1/move", body: `{"address":"printer-b.site:8443","fingerprint":"` + string(fp("b")) + `"}`, want: 409},
		{name: "move to nothing", path: "/api/printers/1/move", body: `{"address":"printer-z.site:8443"}`, want: 502},
		{name: "move an unknown printer", path: "/api/printers/99/move", body: `{"address":"printer-a2.site:8443"}`, want: 404},
		{name: "discover a subnet too large", path: "/api/printers/discover", body: `{"subnet":"10.0.0.0/16"}`, want: 400, wantBody: []string{"commandcenter discover"}},
		{name: "discover far too large", path: "/api/printers/discover", body: `{"subnet":"10.0.0.0/8"}`, want: 400, wantBody: []string{"subnet too large"}},
		{name: "discover no subnet", path: "/api/printers/discover", body: `{"subnet":"printers"}`, want: 400, wantBody: []string{"CIDR"}},
		{name: "discover too many connections", path: "/api/printers/discover", body: `{"subnet":"10.0.0.0/24","ports":[1,2,3,4,5]}`, want: 400,
			wantBody: []string{"1280 connections"}},
		{name: "discover bad ports", path: "/api/printers/discover", body: `{"subnet":"127.0.0.1/32","ports":[0]}`, want: 400, wantBody: []string{"port"}},
		{name: "dismiss nothing", path: "/api/printers/pending/dismiss", body: `{"address":"printer-z.site:8443"}`, want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := handlerStore(t)
			h := manageHandler(t, st, lan)
			// Every case runs after the ones before it that changed printer 1.
			for _, before := range tests {
				if before.name == tt.name {
					break
				}
				if before.want/100 == 2 && strings.HasPrefix(before.path, "/api/printers/1/") {
					if res, body := send(t, h, "POST", before.path, before.body, false); res.StatusCode/100 != 2 {
						t.Fatalf("setting the scene: %s = %d %s", before.path, res.StatusCode, body)
					}
				}
			}
			rows := printerRows(t, st)
			res, body := send(t, h, "POST", tt.path, tt.body, tt.crossSite)
			if res.StatusCode != tt.want {
				t.Fatalf("POST %s %s = %d %s, want %d", tt.path, tt.body, res.StatusCode, body, tt.want)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(body, w) {
					t.Errorf("answer lacks %q: %s", w, body)
				}
			}
			after := printerRows(t, st)
			if tt.check != nil {
				tt.check(t, after)
			} else if res.StatusCode/100 != 2 {
				if diff := cmp.Diff(rows, after); diff != "" {
					t.Errorf("a refused request changed the printers (-before +after):\n%s", diff)
				}
			}
		})
	}
}

// A printer that is not reached does not stop the others, and retiring
// one shows it as retired on the Printers page with its history: its jobs
// stay on the Jobs page.
func TestManagePages(t *testing.T) {
	st := handlerStore(t)
	lan := fakeLAN{"printer-e.site:8443": fp("e"), "printer-a3.site:8443": fp("new")}
	h := manageHandler(t, st, lan)
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}

	res, body := get(t, h, "GET", "/printers/manage")
	if res.StatusCode != 200 {
		t.Fatalf("GET /printers/manage = %d", res.StatusCode)
	}
	containsAll(t, "manage page", body, `action="/printers/probe"`, `action="/printers/discover"`, `action="/printers/1/rename"`,
		`action="/printers/1/move"`, `action="/printers/1/retire"`, "3DP &lt;1&gt;")

	// Pair: probe, confirm, pinned.
	res, body = send(t, h, "POST", "/printers/probe", form("address", "printer-e.site:8443"), false)
	if res.StatusCode != 200 {
		t.Fatalf("probe = %d %s", res.StatusCode, body)
	}
	containsAll(t, "probe answer", body, string(fp("e")), `action="/printers/pair"`, "SN-printer-e.site:8443")
	if _, ok := printerRows(t, st)["printer-e.site:8443"]; ok {
		t.Fatal("probing pinned the printer")
	}
	res, body = send(t, h, "POST", "/printers/pair", form("address", "printer-e.site:8443", "fingerprint", string(fp("x"))), false)
	if res.StatusCode != 200 || !strings.Contains(body, "nothing was pinned") {
		t.Errorf("pair with another fingerprint = %d, want the page saying nothing was pinned:\n%s", res.StatusCode, body)
	}
	res, body = send(t, h, "POST", "/printers/pair", form("address", "printer-e.site:8443", "fingerprint", string(fp("e"))), false)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/printers/manage?done=paired" {
		t.Fatalf("pair = %d %s %s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if _, ok := printerRows(t, st)["printer-e.site:8443"]; !ok {
		t.Fatal("printer not paired")
	}
	_, body = get(t, h, "GET", "/printers/manage?done=paired")
	containsAll(t, "page after pairing", body, "Printer paired")

	// Probing nothing, or a bad address, says why on the page.
	for addr, want := range map[string]string{"printer-z.site:8443": "connection refused", "printer z": "host:port"} {
		res, body = send(t, h, "POST", "/printers/probe", form("address", addr), false)
		if res.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("probe %q = %d, want the page saying %q", addr, res.StatusCode, want)
		}
	}

	// Move to a printer presenting a new certificate: asked to confirm.
	res, body = send(t, h, "POST", "/printers/1/move", form("address", "printer-a3.site:8443"), false)
	if res.StatusCode != 200 {
		t.Fatalf("move = %d", res.StatusCode)
	}
	containsAll(t, "move answer", body, string(fp("new")), `action="/printers/1/move"`, "nothing was changed")
	res, _ = send(t, h, "POST", "/printers/1/move", form("address", "printer-a3.site:8443", "fingerprint", string(fp("new"))), false)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirmed move = %d", res.StatusCode)
	}
	if p := printerRows(t, st)["printer-a3.site:8443"]; p.ID != 1 {
		t.Errorf("printer 1 not moved: %+v", p)
	}

	// Rename and retire; the Printers page shows both, the Jobs page the
	// retired printer's job under its new name.
	for _, c := range []struct{ path, body, done string }{
		{"/printers/1/rename", form("name", "Halle 2"), "renamed"},
		{"/printers/1/retire", "", "retired"},
	} {
		res, _ := send(t, h, "POST", c.path, c.body, false)
		if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "done="+c.done) {
			t.Errorf("POST %s = %d %s", c.path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	_, body = get(t, h, "GET", "/")
	containsAll(t, "printers page", body, "Halle 2", `class="retired"`, "retired since 2025-03-01")
	_, body = get(t, h, "GET", "/jobs")
	containsAll(t, "jobs page", body, "Halle 2", "CANARY-job-name")
	_, body = get(t, h, "GET", "/printers/manage")
	containsAll(t, "manage page", body, `action="/printers/1/reactivate"`)
	res, _ = send(t, h, "POST", "/printers/1/reactivate", "", false)
	if res.StatusCode != http.StatusSeeOther || printerRows(t, st)["printer-a3.site:8443"].Retired() {
		t.Errorf("reactivate = %d, retired still %v", res.StatusCode, printerRows(t, st)["printer-a3.site:8443"].Retired())
	}

	// Refusals: another site's page, a bad ID, a name too long.
	for _, c := range []struct {
		path, body string
		cross      bool
		want       int
	}{
		{"/printers/1/retire", "", true, http.StatusForbidden},
		{"/printers/pair", form("address", "printer-e.site:8443", "fingerprint", string(fp("e"))), true, http.StatusForbidden},
		{"/printers/x/retire", "", false, http.StatusBadRequest},
		{"/printers/99/retire", "", false, http.StatusNotFound},
		{"/printers/1/rename", form("name", strings.Repeat("x", 65)), false, http.StatusOK}, // the page says why
		{"/printers/pending/dismiss", form("address", "nope:1"), false, http.StatusNotFound},
	} {
		before := printerRows(t, st)
		res, body := send(t, h, "POST", c.path, c.body, c.cross)
		if res.StatusCode != c.want {
			t.Errorf("POST %s (cross-site %v) = %d, want %d: %s", c.path, c.cross, res.StatusCode, c.want, body)
		}
		if diff := cmp.Diff(before, printerRows(t, st)); diff != "" {
			t.Errorf("POST %s changed the printers:\n%s", c.path, diff)
		}
	}
}

// Discovery from the local UI scans loopback for a real printer's device
// API and lists it to pair; a printer paired already is not listed again,
// and dismissing forgets one.
func TestManageDiscover(t *testing.T) {
	collectors, err := deviceapi.OpenCollectors(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(deviceapi.NewHandler(printer.New(printer.Options{Name: "3DP 9", Seed: 9}), collectors, slog.New(slog.DiscardHandler)))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pin := deviceapi.FingerprintOf(srv.Certificate().Raw)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	st := handlerStore(t)
	h := NewHandler(SourcesOf(st), HandlerOptions{Clock: clock.NewManual(handlerNow)}) // the real probe

	res, body := send(t, h, "POST", "/api/printers/discover", `{"subnet":"127.0.0.0/30","ports":[`+port+`]}`, false)
	if res.StatusCode != 200 {
		t.Fatalf("discover = %d %s", res.StatusCode, body)
	}
	var found []commandcenter.Found
	if err := json.Unmarshal([]byte(body), &found); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + port
	if len(found) != 1 || found[0].Address != addr || found[0].Fingerprint != pin {
		t.Fatalf("found %+v, want %s with %s", found, addr, pin)
	}
	var pending []commandcenter.PendingPrinter
	getJSON(t, h, "/api/printers/pending", &pending)
	if len(pending) != 1 || pending[0].Address != addr || pending[0].Identity == nil || pending[0].Identity.SerialNumber == "" {
		t.Fatalf("pending %+v, want %s with its identity", pending, addr)
	}
	_, page := get(t, h, "GET", "/printers/manage")
	containsAll(t, "manage page", page, addr, string(pin), pending[0].Identity.SerialNumber)

	// Pair it from the list: it leaves the list.
	res, body = send(t, h, "POST", "/api/printers", `{"address":"`+addr+`","fingerprint":"`+string(pin)+`"}`, false)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("pair = %d %s", res.StatusCode, body)
	}
	getJSON(t, h, "/api/printers/pending", &pending)
	if len(pending) != 0 {
		t.Errorf("pending after pairing: %+v", pending)
	}
	// Found again, it is paired: not pending.
	if res, body := send(t, h, "POST", "/printers/discover", "subnet=127.0.0.1%2F32&ports="+port, false); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/printers/manage?done=discovered&n=1" {
		t.Fatalf("discover form = %d %s %s", res.StatusCode, res.Header.Get("Location"), body)
	}
	getJSON(t, h, "/api/printers/pending", &pending)
	if len(pending) != 0 {
		t.Errorf("a paired printer pending again: %+v", pending)
	}

	if err := st.SavePending(t.Context(), commandcenter.PendingPrinter{Address: "10.9.9.9:8443", Fingerprint: fp("p"), FoundAt: handlerNow}); err != nil {
		t.Fatal(err)
	}
	if res, _ := send(t, h, "POST", "/api/printers/pending/dismiss", `{"address":"10.9.9.9:8443"}`, false); res.StatusCode != http.StatusNoContent {
		t.Errorf("dismiss = %d", res.StatusCode)
	}
	if res, _ := send(t, h, "POST", "/printers/discover", "subnet=10.0.0.0%2F8", false); res.StatusCode != 200 {
		t.Errorf("discover form with a /8 = %d, want the page saying why", res.StatusCode)
	}
}

// Without printer management (a Command Center whose sources lack it)
// the page and routes answer 503.
func TestManageOff(t *testing.T) {
	src := SourcesOf(handlerStore(t))
	src.Admin = nil
	h := NewHandler(src, HandlerOptions{Clock: clock.NewManual(handlerNow)})
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/printers/manage", ""},
		{"GET", "/api/printers/pending", ""},
		{"POST", "/api/printers/probe", `{"address":"a:1"}`},
		{"POST", "/api/printers/1/retire", ""},
		{"POST", "/printers/1/retire", ""},
	} {
		res, body := send(t, h, c.method, c.path, c.body, false)
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "not configured") {
			t.Errorf("%s %s = %d %q, want 503", c.method, c.path, res.StatusCode, body)
		}
	}
}
