package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// safeBuffer is a bytes.Buffer safe for the concurrent writes of run.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	printerLine = regexp.MustCompile(`(?m)^printer: https://(\S+) fingerprint (\S+)$`)
	simLine     = regexp.MustCompile(`(?m)^sim-control: http://(\S+)/printers/`)
)

// `fusionfleet printer --count N --sim-control` runs N distinct printers in
// one process, each its own HTTPS device with its own pinned certificate,
// and a loopback simulation control for each.
func TestPrinterCount(t *testing.T) {
	out := &safeBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"fusionfleet", "printer", "-count", "3", "-listen", "127.0.0.1:0", "-data", t.TempDir(),
			"-sim-control", "127.0.0.1:0", "-speed", "600", "-log-level", "error"},
			func(string) string { return "" }, strings.NewReader(""), out, &safeBuffer{})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("printer after cancel: %v", err)
		}
	}()
	wait.For(t, "printers did not start", 30*time.Second, func() bool { return simLine.MatchString(out.String()) })

	printers := printerLine.FindAllStringSubmatch(out.String(), -1)
	if len(printers) != 3 {
		t.Fatalf("got %d printer lines, want 3:\n%s", len(printers), out)
	}
	ids := map[string]bool{}
	names := map[string]bool{}
	for _, m := range printers {
		c := deviceapi.NewClient(m[1], deviceapi.Fingerprint(m[2]), deviceapi.ClientOptions{})
		id, err := c.Identity(t.Context())
		if err != nil {
			t.Fatalf("identity of %s: %v", m[1], err)
		}
		ids[string(id.PrinterID)], names[id.Name] = true, true
	}
	if len(ids) != 3 || !names["3DP 1"] || !names["3DP 3"] {
		t.Errorf("printers: ids %v, names %v; want three distinct printers named 3DP 1..3", ids, names)
	}

	// The simulation control reaches each printer by its number.
	sim := "http://" + simLine.FindStringSubmatch(out.String())[1]
	resp, err := http.Get(sim + "/printers/2/sim/v1/truth")
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		PrinterID string `json:"printer_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&truth)
	resp.Body.Close()
	if err != nil || !ids[truth.PrinterID] {
		t.Errorf("truth of printer 2: %+v, %v; want one of %v", truth, err, ids)
	}
	if resp, err := http.Get(sim + "/printers/4/sim/v1/truth"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
		t.Errorf("printer 4 of 3: %s, want 404", resp.Status)
	}
}

func TestPrinterFlagsRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"sim control off loopback", []string{"printer", "-listen", "127.0.0.1:0", "-sim-control", "0.0.0.0:0"}, "not a loopback address"},
		{"count zero", []string{"printer", "-count", "0"}, "-count 0"},
		{"ports past the end", []string{"printer", "-count", "10", "-listen", "127.0.0.1:65530"}, "leaves room for 10 printers"},
		{"pair not a fingerprint", []string{"printer", "-pair", "AB:CD"}, "-pair: fingerprint"},
		{"unpair not a fingerprint", []string{"printer", "-unpair", "xyz"}, "-unpair: fingerprint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runArgs(t, tt.args...)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tt.want)
			}
		})
	}
}

// `fusionfleet printer -pair FP` pairs a Command Center at the printer: its
// client reads the private routes, and still does after a restart without
// -pair; -unpair ends it.
func TestPrinterPairing(t *testing.T) {
	dir := t.TempDir()
	cert, err := deviceapi.LoadOrCreateClientCertificate(filepath.Join(dir, "cc"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fp := string(deviceapi.FingerprintOf(cert.Certificate[0]))
	status := func(flags ...string) error {
		t.Helper()
		out := &safeBuffer{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, append([]string{"fusionfleet", "printer", "-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "printer"),
				"-log-level", "error"}, flags...), func(string) string { return "" }, strings.NewReader(""), out, &safeBuffer{})
		}()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("printer after cancel: %v", err)
			}
		}()
		wait.For(t, "printer did not start", 30*time.Second, func() bool { return printerLine.MatchString(out.String()) })
		m := printerLine.FindStringSubmatch(out.String())
		c := deviceapi.NewClient(m[1], deviceapi.Fingerprint(m[2]), deviceapi.ClientOptions{Certificate: &cert})
		defer c.CloseIdleConnections()
		_, err := c.Status(t.Context())
		return err
	}
	if err := status(); !errors.Is(err, deviceapi.ErrNotPaired) {
		t.Errorf("before -pair: %v, want not paired", err)
	}
	if err := status("-pair", strings.ToLower(fp)); err != nil {
		t.Errorf("with -pair: %v", err)
	}
	if err := status(); err != nil {
		t.Errorf("restarted without -pair: %v, want still paired", err)
	}
	if err := status("-unpair", fp); !errors.Is(err, deviceapi.ErrNotPaired) {
		t.Errorf("with -unpair: %v, want not paired", err)
	}
}
