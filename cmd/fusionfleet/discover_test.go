package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/printer"
)

// serveTestPrinter serves a virtual printer's device API on a free
// loopback port until the test ends and returns its port.
func serveTestPrinter(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := deviceapi.LoadOrCreateCertificate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	collectors, err := deviceapi.OpenCollectors(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	srv := deviceapi.NewServer(deviceapi.NewHandler(printer.New(printer.Options{Name: "3DP 1", Seed: 1}), collectors, logger), cert, logger)
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func TestCommandCenterDiscover(t *testing.T) {
	port := serveTestPrinter(t)
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(plain, http.NotFoundHandler())
	t.Cleanup(func() { plain.Close() })
	_, plainPort, _ := net.SplitHostPort(plain.Addr().String())
	dir := t.TempDir()

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"no subnet", nil, 2, nil, []string{"-subnet is required"}},
		{"subnet too large", []string{"-subnet", "10.0.0.0/8"}, 1, nil, []string{"subnet too large", "at most 65536"}},
		{"not a subnet", []string{"-subnet", "10.0.0.1"}, 1, nil, []string{"want CIDR notation"}},
		{"bad port", []string{"-subnet", "127.0.0.1/32", "-port", "0"}, 1, nil, []string{"ports: port \"0\""}},
		{"bad rate", []string{"-subnet", "127.0.0.1/32", "-rate", "fast"}, 1, nil, []string{"-rate", "as 50/s"}},
		{"rate too high", []string{"-subnet", "127.0.0.1/32", "-rate", "5000/s"}, 1, nil, []string{"-rate"}},
		{"bad timeout", []string{"-subnet", "127.0.0.1/32", "-timeout", "-1s"}, 1, nil, []string{"-timeout"}},
		{"nothing there", []string{"-subnet", "127.0.0.1/32", "-port", plainPort, "-rate", "1000/s"}, 0,
			[]string{"no printers found"}, []string{"1/1 addresses"}},
		{"found, kept pending", []string{"-subnet", "127.0.0.0/30", "-port", port + "," + plainPort, "-rate", "1000/s", "-pair"}, 0,
			[]string{"127.0.0.1:" + port, "FF-4200", "pending", "pending pairings: 1"}, []string{"scanning 127.0.0.0/30", "4/4 addresses"}},
		{"found again, pending still", []string{"-subnet", "127.0.0.1/32", "-port", port}, 0,
			[]string{"127.0.0.1:" + port, "pending", "pending pairings: 1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, append([]string{"commandcenter", "discover", "-data", dir}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stdout %s; stderr %s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
	st, err := commandcenter.Open(t.Context(), filepath.Join(dir, "commandcenter.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pend, err := st.PendingPrinters(t.Context())
	if err != nil || len(pend) != 1 || pend[0].Address != "127.0.0.1:"+port || pend[0].Identity == nil {
		t.Errorf("pending printers %+v, %v; want the printer with its identity", pend, err)
	}
	if ps, err := st.Printers(t.Context()); err != nil || len(ps) != 0 {
		t.Errorf("printers pinned without confirmation: %+v, %v", ps, err)
	}
}
