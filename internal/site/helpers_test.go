package site

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// startCloud opens a cloud node in dir on listen ("" → any free loopback
// port) and runs it until the test ends or the actor is stopped.
func startCloud(t testing.TB, dir, listen string) (*cloud.Node, *wait.Running) {
	t.Helper()
	// The tests' printers run on accelerated clocks (an hour a second):
	// their records are soon dated days ahead of the cloud's clock, which
	// the cloud would refuse (cloud.Options.MaxRecordAhead).
	node, err := cloud.New(t.Context(), cloud.Options{DataDir: dir, Listen: listen, Hosts: []string{"127.0.0.1"}, MaxRecordAhead: -1})
	if err != nil {
		t.Fatal(err)
	}
	return node, wait.Go(t, node.Run)
}

// startPrinter serves a virtual printer's device API on a free loopback
// port until the test ends, and returns its address. The printer pairs the
// Command Centers whose fingerprints are given.
func startPrinter(t testing.TB, opts printer.Options, pair ...deviceapi.Fingerprint) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := deviceapi.LoadOrCreateCertificate(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	collectors, err := deviceapi.OpenCollectors(t.TempDir())
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	for _, fp := range pair {
		if err := collectors.Pair(fp); err != nil {
			ln.Close()
			t.Fatal(err)
		}
	}
	logger := discardLogger()
	srv := deviceapi.NewServer(deviceapi.NewHandler(printer.New(opts), collectors, logger), cert, logger)
	wait.Go(t, func(ctx context.Context) error {
		return httpserver.Run(ctx, logger, "printer", srv, func() error { return srv.ServeTLS(ln, "", "") })
	})
	return ln.Addr().String()
}

// holdPorts listens on n consecutive free loopback ports until the test ends
// and returns the first and last.
func holdPorts(t *testing.T, n int) (first, last int) {
	t.Helper()
	for base := 41000; base < 60000; base += 97 {
		var held []net.Listener
		for p := base; p < base+n; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				break
			}
			held = append(held, ln)
		}
		if len(held) == n {
			t.Cleanup(func() {
				for _, l := range held {
					l.Close()
				}
			})
			return base, base + n - 1
		}
		for _, l := range held {
			l.Close()
		}
	}
	t.Fatal("no consecutive free ports found")
	return 0, 0
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// ccFingerprint is the fingerprint of the Command Center that will keep its
// data in dir, for its printers to pair before it starts.
func ccFingerprint(t testing.TB, dir string) deviceapi.Fingerprint {
	t.Helper()
	fp, err := Fingerprint(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return fp
}
