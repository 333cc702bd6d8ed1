package deviceapi

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// startServer serves h over TLS on a loopback port with a certificate from
// LoadOrCreateCertificate and returns the address and the certificate's pin.
func startServer(t *testing.T, h http.Handler) (addr string, pin Fingerprint) {
	t.Helper()
	cert, err := LoadOrCreateCertificate(filepath.Join(t.TempDir(), "tls"), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, cert, testLogger(t))
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String(), FingerprintOf(cert.Certificate[0])
}

func TestClientRoundTrip(t *testing.T) {
	dev := newFakeDevice()
	addr, pin := startServer(t, testHandler(t, dev))
	c := NewClient(addr, pin, collectorOpts(ClientOptions{}))
	t.Cleanup(c.CloseIdleConnections)
	ctx := t.Context()

	if c.Addr() != addr {
		t.Errorf("Addr: got %q, want %q", c.Addr(), addr)
	}
	id, err := c.Identity(ctx)
	if err != nil {
		t.Fatalf("Identity: %v", err)
	}
	if diff := cmp.Diff(dev.id, id); diff != "" {
		t.Errorf("Identity (-want +got):\n%s", diff)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if diff := cmp.Diff(dev.st, st); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}

	// Page through all events two at a time: each exactly once.
	var seqs []uint64
	after := uint64(0)
	for range 10 {
		p, err := c.Events(ctx, after, 2)
		if err != nil {
			t.Fatalf("Events after %d: %v", after, err)
		}
		if len(p.Items) == 0 {
			break
		}
		for _, e := range p.Items {
			seqs = append(seqs, e.Seq)
		}
		after = p.Next
	}
	if diff := cmp.Diff([]uint64{1, 2, 3, 4, 5}, seqs); diff != "" {
		t.Errorf("paged seqs (-want +got):\n%s", diff)
	}
	if _, err := c.Events(ctx, 0, 0); err != nil || dev.gotLimit != DefaultEventLimit {
		t.Errorf("Events with limit 0: err %v, printer asked limit %d, want %d", err, dev.gotLimit, DefaultEventLimit)
	}

	jobs, err := c.Jobs(ctx, 1, 0)
	if err != nil {
		t.Fatalf("Jobs: %v", err)
	}
	if diff := cmp.Diff(dev.Jobs(1, DefaultJobLimit), jobs); diff != "" {
		t.Errorf("Jobs (-want +got):\n%s", diff)
	}
	layers, err := c.Layers(ctx, 0, 3)
	if err != nil {
		t.Fatalf("Layers: %v", err)
	}
	if diff := cmp.Diff(dev.Layers(0, 3), layers); diff != "" {
		t.Errorf("Layers (-want +got):\n%s", diff)
	}
	logs, err := c.Logs(ctx, fleet.LogSession, 2, 0)
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	if diff := cmp.Diff(dev.Logs(fleet.LogSession, 2, DefaultLogLimit), logs); diff != "" {
		t.Errorf("Logs (-want +got):\n%s", diff)
	}
	counters, err := c.Counters(ctx)
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	if diff := cmp.Diff(dev.counters, counters); diff != "" {
		t.Errorf("Counters (-want +got):\n%s", diff)
	}
	cons, err := c.Consumables(ctx)
	if err != nil {
		t.Fatalf("Consumables: %v", err)
	}
	if diff := cmp.Diff(dev.consumables, cons); diff != "" {
		t.Errorf("Consumables (-want +got):\n%s", diff)
	}
	doc, err := c.OpenAPI(ctx)
	if err != nil {
		t.Fatalf("OpenAPI: %v", err)
	}
	if diff := cmp.Diff(string(openAPIDocument(routeTable(nil))), strings.TrimSpace(string(doc))); diff != "" {
		t.Errorf("OpenAPI (-want +got):\n%s", diff)
	}
}

func TestClientServerTLSVersion(t *testing.T) {
	addr, _ := startServer(t, testHandler(t, newFakeDevice()))
	// A client that only speaks TLS 1.1 must be refused.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Fatal("TLS 1.1 handshake succeeded, want refusal")
	}
}

func TestClientPinMismatch(t *testing.T) {
	addr, pin := startServer(t, testHandler(t, newFakeDevice()))
	other, err := LoadOrCreateCertificate(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wrong := FingerprintOf(other.Certificate[0])
	c := NewClient(addr, wrong, collectorOpts(ClientOptions{}))
	t.Cleanup(c.CloseIdleConnections)

	_, err = c.Status(t.Context())
	if !errors.Is(err, ErrPinMismatch) {
		t.Fatalf("got %v, want ErrPinMismatch", err)
	}
	var pe *PinError
	if !errors.As(err, &pe) {
		t.Fatalf("got %T, want *PinError", err)
	}
	if diff := cmp.Diff(PinError{Addr: addr, Want: wrong, Got: pin}, *pe); diff != "" {
		t.Errorf("PinError (-want +got):\n%s", diff)
	}
	for _, want := range []string{"certificate of printer at " + addr + " changed", string(wrong), string(pin), "re-pair"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}

	// A pin typed in lower case still matches.
	ok := NewClient(addr, Fingerprint(strings.ToLower(string(pin))), collectorOpts(ClientOptions{}))
	t.Cleanup(ok.CloseIdleConnections)
	if _, err := ok.Status(t.Context()); err != nil {
		t.Errorf("lower-case pin: %v", err)
	}
}

func TestProbe(t *testing.T) {
	addr, pin := startServer(t, testHandler(t, newFakeDevice()))
	got, err := Probe(t.Context(), addr)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if got != pin {
		t.Errorf("Probe: got %s, want %s", got, pin)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUnreachable(t *testing.T) {
	addr := closedAddr(t)
	t.Run("probe", func(t *testing.T) {
		_, err := Probe(t.Context(), addr)
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("got %v, want an error naming %s", err, addr)
		}
	})
	t.Run("client", func(t *testing.T) {
		c := NewClient(addr, "AA", collectorOpts(ClientOptions{}))
		_, err := c.Status(t.Context())
		if err == nil || !strings.Contains(err.Error(), "printer "+addr) {
			t.Errorf("got %v, want an error naming printer %s", err, addr)
		}
		if errors.Is(err, ErrPinMismatch) {
			t.Errorf("unreachable reported as pin mismatch: %v", err)
		}
	})
	t.Run("probe plain TCP", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			conn, err := ln.Accept()
			if err == nil {
				conn.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
				conn.Close()
			}
		}()
		if _, err := Probe(t.Context(), ln.Addr().String()); err == nil {
			t.Error("probe of a non-TLS server succeeded")
		}
	})
}

func TestClientRefusesBadAnswers(t *testing.T) {
	valid := `{"state":"idle","activity":"idle","etc_seconds":0,"pending_jobs":0,"time":"2026-03-02T09:30:00Z"}`
	tests := []struct {
		name    string
		h       http.HandlerFunc
		opts    ClientOptions
		wantErr string
	}{
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"state":"idle","activity":"` + strings.Repeat("x", 2000) + `"}`))
		}, ClientOptions{MaxResponseBytes: 1024}, "larger than 1024 bytes"},
		{"not JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`<html>hello</html>`))
		}, collectorOpts(ClientOptions{}), "decode answer"},
		{"HTML content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(valid))
		}, collectorOpts(ClientOptions{}), `content type "text/html"`},
		{"unknown field", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"state":"idle","surprise":1,"time":"2026-03-02T09:30:00Z"}`))
		}, collectorOpts(ClientOptions{}), `unknown field "surprise"`},
		{"trailing data", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(valid + valid))
		}, collectorOpts(ClientOptions{}), "data after the JSON value"},
		{"invalid status", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"activity":"?","time":"2026-03-02T09:30:00Z"}`))
		}, collectorOpts(ClientOptions{}), "invalid state"},
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			w.Write([]byte(`{"error":"sensor bus down"}`))
		}, collectorOpts(ClientOptions{}), "500 Internal Server Error: sensor bus down"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://127.0.0.1:1/elsewhere", http.StatusFound)
		}, collectorOpts(ClientOptions{}), "302 Found"},
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, collectorOpts(ClientOptions{Timeout: 200 * time.Millisecond}), "Client.Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, pin := startServer(t, tt.h)
			c := NewClient(addr, pin, tt.opts)
			t.Cleanup(c.CloseIdleConnections)
			_, err := c.Status(t.Context())
			if err == nil {
				t.Fatal("got no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), addr) {
				t.Errorf("got %q, want it to contain %q and the address %s", err, tt.wantErr, addr)
			}
		})
	}
}

func TestClientStatusError(t *testing.T) {
	addr, pin := startServer(t, testHandler(t, newFakeDevice()))
	c := NewClient(addr, pin, collectorOpts(ClientOptions{}))
	t.Cleanup(c.CloseIdleConnections)
	// The real handler's 400, seen through the client.
	_, err := c.get(t.Context(), "/v1/events?after=x")
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want *StatusError", err)
	}
	if se.Code != 400 || !strings.Contains(se.Message, `after "x"`) {
		t.Errorf("got code %d message %q, want 400 about after", se.Code, se.Message)
	}
}

func TestEventsCursorChecks(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		after   uint64
		limit   int
		wantErr string
	}{
		{"event at cursor", `{"instance":"I","items":[{"seq":3,"code":"X","severity":"info","time":"2026-03-02T09:30:00Z"}],"next":3,"first":1}`, 3, 10, "not after cursor"},
		{"too many", `{"instance":"I","items":[{"seq":4,"code":"X","severity":"info","time":"2026-03-02T09:30:00Z"},{"seq":5,"code":"X","severity":"info","time":"2026-03-02T09:30:00Z"}],"next":5,"first":1}`, 3, 1, "at most 1"},
		{"empty page moves cursor", `{"instance":"I","items":[],"next":9,"first":1}`, 3, 10, "moves cursor"},
		{"decreasing", `{"instance":"I","items":[{"seq":5,"code":"X","severity":"info","time":"2026-03-02T09:30:00Z"},{"seq":4,"code":"X","severity":"info","time":"2026-03-02T09:30:00Z"}],"next":4,"first":1}`, 0, 10, "want increasing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, pin := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tt.body))
			}))
			c := NewClient(addr, pin, collectorOpts(ClientOptions{}))
			t.Cleanup(c.CloseIdleConnections)
			_, err := c.Events(t.Context(), tt.after, tt.limit)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

// Clients sharing a session cache resume TLS sessions across connections,
// and the pin still decides: a resumed session with another printer's
// certificate behind the same address is refused.
func TestClientSessionResumption(t *testing.T) {
	var resumed []bool
	var mu sync.Mutex
	h := testHandler(t, newFakeDevice())
	addr, pin := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		resumed = append(resumed, r.TLS.DidResume)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	cache := tls.NewLRUClientSessionCache(8)
	for range 3 {
		c := NewClient(addr, pin, collectorOpts(ClientOptions{SessionCache: cache}))
		if _, err := c.Status(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.CloseIdleConnections()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(resumed) != 3 || resumed[0] || !resumed[1] || !resumed[2] {
		t.Errorf("resumed per connection: %v, want [false true true]", resumed)
	}

	// A second printer on the same IP keeps its own session: both resume.
	mu.Unlock()
	addr2, pin2 := startServer(t, testHandler(t, newFakeDevice()))
	for range 2 {
		for _, p := range []struct {
			addr string
			pin  Fingerprint
		}{{addr, pin}, {addr2, pin2}} {
			c := NewClient(p.addr, p.pin, collectorOpts(ClientOptions{SessionCache: cache}))
			if _, err := c.Status(t.Context()); err != nil {
				t.Fatal(err)
			}
			c.CloseIdleConnections()
		}
	}
	mu.Lock()
	if last := resumed[len(resumed)-2:]; !last[0] || !last[1] {
		t.Errorf("first printer's connections after the second printer's: resumed %v, want both", last)
	}

	// The same cache, a different pin: refused although a session exists.
	c := NewClient(addr, Fingerprint("00:11"), collectorOpts(ClientOptions{SessionCache: cache}))
	if _, err := c.Status(t.Context()); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("resumed session with a wrong pin: %v, want ErrPinMismatch", err)
	}
}
