package printer

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
)

// fleetWarmup is how long ServeFleet's printers have run before they are
// first read, so that most are printing, not idle.
const fleetWarmup = time.Hour

// ServeFleet is the printers' process of commandcenter.PollFleet: it serves n
// virtual printers pairing the Command Center collector, writes their
// addresses to out, answers each line of in with the requests and bytes
// its printers answered ("served R B"), and returns when in ends.
func ServeFleet(n int, collector deviceapi.Fingerprint, in io.Reader, out io.Writer) error {
	log := slog.New(slog.DiscardHandler)
	dir, err := os.MkdirTemp("", "fusionfleet-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, sub := range []string{"printer", "collectors"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	cert, err := deviceapi.LoadOrCreateCertificate(filepath.Join(dir, "printer"), nil, time.Now())
	if err != nil {
		return err
	}
	collectors, err := deviceapi.OpenCollectors(filepath.Join(dir, "collectors"))
	if err != nil {
		return err
	}
	if err := collectors.Pair(collector); err != nil {
		return err
	}
	// The printers start an hour ago, so that on their first read, an
	// hour into production, most are printing; from then on they follow
	// the real clock, as the poller does.
	clk := &shiftedClock{}
	clk.shift.Store(int64(-fleetWarmup))
	var requests, bytes atomic.Int64
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			h.ServeHTTP(countingWriter{w, &bytes}, r)
		})
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "pin %s\n", deviceapi.FingerprintOf(cert.Certificate[0]))
	for i := range n {
		p := New(Options{Seed: int64(i + 1), Clock: clk})
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := deviceapi.NewServer(count(deviceapi.NewHandler(p, collectors, log)), cert, log)
		go srv.ServeTLS(l, "", "")
		defer srv.Close()
		fmt.Fprintf(w, "printer %s\n", l.Addr())
	}
	clk.shift.Store(0)
	fmt.Fprintln(w, "ready")
	if err := w.Flush(); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if _, err := fmt.Fprintf(out, "served %d %d\n", requests.Load(), bytes.Load()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// countingWriter counts the bytes of the answers written through it.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// shiftedClock is the real clock shifted by a duration.
type shiftedClock struct{ shift atomic.Int64 }

func (c *shiftedClock) Now() time.Time { return time.Now().Add(time.Duration(c.shift.Load())) }

var _ clock.Clock = (*shiftedClock)(nil)
