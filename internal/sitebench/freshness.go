package sitebench

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/httpserver"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/site"
)

// Freshness measures how long a printer's change of state takes
// to reach the cloud dashboard's live stream (target: p99 at most 10 s):
// o.Printers virtual printers (20 by default), a real Command Center and a
// real cloud node, at their default settings (poll every 5 s, status
// uploads within the priority delay, the default bandwidth cap) on the
// real clock, with a browser's live stream (/api/events) open. The
// printers' own clock runs 300 times faster, so that they change state
// often; a watcher reads each printer's state every 20 ms, and each state
// the stream shows for a printer is matched with the moment the printer
// entered it. It watches for o.Window (180 s by default) after o.Settle (a
// first minute by default) not counted. Reported: p50 and p99 in seconds
// and the changes seen; a state the printer left before the next poll is
// not on the stream at all, and counted as missed.
func Freshness(b benchrun.B, o FreshnessOptions) {
	printers := cmp.Or(o.Printers, 20)
	window := cmp.Or(o.Window, 180*time.Second)
	settle := cmp.Or(o.Settle, time.Minute)
	delay := o.PriorityDelay
	for b.Loop() {
		dir := b.TempDir()
		ctx := b.Context()
		cloudNode, err := cloud.New(ctx, cloud.Options{DataDir: filepath.Join(dir, "cloud"), Hosts: []string{"127.0.0.1"}, Logger: discardLogger()})
		if err != nil {
			b.Fatal(err)
		}
		goRun(b, cloudNode.Run)
		user, password, token, err := cloudNode.DemoTenant(ctx)
		if err != nil {
			b.Fatal(err)
		}

		ccDir := filepath.Join(dir, "cc")
		printerClock := clock.NewScaled(300)
		w := &stateWatch{entered: map[fleet.PrinterID][]stateEntry{}}
		var addrs []string
		for i := range printers {
			p := printer.New(printer.Options{Name: fmt.Sprintf("3DP %d", i+1), Seed: int64(i + 1), Clock: printerClock})
			addrs = append(addrs, servePrinter(b, p, ccFingerprint(b, ccDir)))
			goRun(b, func(ctx context.Context) error { return w.watch(ctx, p) })
		}
		cc, err := site.New(ctx, site.Options{DataDir: ccDir, CloudURL: cloudNode.URL(), RootCAs: cloudNode.RootCAs(), EnrolToken: token,
			Name: "bench", Printers: addrs, TrustNewPrinters: true, PriorityDelay: delay, Logger: discardLogger()})
		if err != nil {
			b.Fatal(err)
		}
		goRun(b, cc.Run)

		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cloudNode.RootCAs()}}}
		logIn(b, browser, cloudNode.DashboardURL(), user, password)
		live := liveEvents(b, browser, cloudNode.DashboardURL()+"api/events")

		start := time.Now().Add(settle) // first contact and the first uploads settle
		end := start.Add(window)
		shown := map[fleet.PrinterID]fleet.State{}
		var lat []time.Duration
		missed := 0
		for time.Now().Before(end) {
			var data string
			select {
			case data = <-live:
			case <-time.After(time.Until(end)):
				continue
			}
			at := time.Now()
			var cards []struct {
				ID    fleet.PrinterID `json:"id"`
				State fleet.State     `json:"state"`
			}
			if err := json.Unmarshal([]byte(data), &cards); err != nil {
				b.Fatalf("live stream: %v: %.200s", err, data)
			}
			for _, c := range cards {
				prev, known := shown[c.ID]
				shown[c.ID] = c.State
				if !known || prev == c.State || at.Before(start) {
					continue
				}
				entered, skipped, ok := w.enteredBefore(c.ID, c.State, prev, at)
				if !ok {
					b.Errorf("printer %s shown %s, a state it was never seen in", c.ID, c.State)
					continue
				}
				lat = append(lat, at.Sub(entered))
				missed += skipped
			}
		}
		if len(lat) == 0 {
			b.Fatal("no change of state reached the live stream")
		}
		p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
		b.Logf("%d changes of state on the stream in %s, %d states missed: p50 %v, p99 %v, slowest %v",
			len(lat), window, missed, p50.Round(time.Millisecond), p99.Round(time.Millisecond), slices.Max(lat).Round(time.Millisecond))
		b.ReportMetric(p50.Seconds(), "p50_s")
		b.ReportMetric(p99.Seconds(), "p99_s")
		b.ReportMetric(float64(len(lat)), "changes")
		b.ReportMetric(float64(missed), "missed")
	}
}

// FreshnessOptions size Freshness; the zero value is the benchmark's.
type FreshnessOptions struct {
	Printers int
	Window   time.Duration // how long changes are counted
	Settle   time.Duration // how long after the start they are not
	// PriorityDelay is the Command Center's, 0 for its default.
	PriorityDelay time.Duration
}

// stateEntry is a printer entering a state at a moment of real time.
type stateEntry struct {
	state fleet.State
	at    time.Time
}

// stateWatch records when each printer entered each state.
type stateWatch struct {
	mu      sync.Mutex
	entered map[fleet.PrinterID][]stateEntry
}

// watch reads p's state every 20 ms until ctx ends.
func (w *stateWatch) watch(ctx context.Context, p *printer.Printer) error {
	id := p.Identity().PrinterID
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		s := p.Status().State
		w.mu.Lock()
		es := w.entered[id]
		if len(es) == 0 || es[len(es)-1].state != s {
			w.entered[id] = append(es, stateEntry{s, time.Now()})
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// enteredBefore returns when printer id last entered state before at, and
// how many states it passed through since it left prev (shown before)
// that the stream never showed.
func (w *stateWatch) enteredBefore(id fleet.PrinterID, state, prev fleet.State, at time.Time) (time.Time, int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	es := w.entered[id]
	i := len(es) - 1
	for i >= 0 && (es[i].at.After(at) || es[i].state != state) {
		i--
	}
	if i < 0 {
		return time.Time{}, 0, false
	}
	skipped := 0
	for j := i - 1; j >= 0 && es[j].state != prev; j-- {
		skipped++
	}
	return es[i].at, skipped, true
}

// servePrinter serves p's device API on a free loopback port until the
// benchmark ends, pairing the Command Center pair, and returns its address.
func servePrinter(b benchrun.B, p *printer.Printer, pair deviceapi.Fingerprint) string {
	b.Helper()
	cert, err := deviceapi.LoadOrCreateCertificate(b.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	collectors, err := deviceapi.OpenCollectors(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if err := collectors.Pair(pair); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	logger := discardLogger()
	srv := deviceapi.NewServer(deviceapi.NewHandler(p, collectors, logger), cert, logger)
	goRun(b, func(ctx context.Context) error {
		return httpserver.Run(ctx, logger, "printer", srv, func() error { return srv.ServeTLS(ln, "", "") })
	})
	return ln.Addr().String()
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// logIn submits the dashboard's login form as a browser would.
func logIn(b benchrun.B, c *http.Client, base, user, password string) {
	b.Helper()
	resp, err := c.Get(base + "login")
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		b.Fatalf("login page: %s, no CSRF field", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"login", strings.NewReader(url.Values{
		"csrf": {string(m[1])}, "name": {user}, "password": {password},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", strings.TrimSuffix(base, "/"))
	if resp, err = c.Do(req); err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("login as %s: %s", user, resp.Status)
	}
}

// liveEvents opens a Server-Sent Events stream and delivers its data lines.
func liveEvents(b benchrun.B, client *http.Client, u string) <-chan string {
	b.Helper()
	req, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, u, nil)
	c := *client
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("live stream %s: %s", u, resp.Status)
	}
	out := make(chan string)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				select {
				case out <- data:
				case <-b.Context().Done():
					return
				}
			}
		}
	}()
	return out
}

// percentile returns the q-quantile of ds (nearest rank).
func percentile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[max(0, int(math.Ceil(q*float64(len(s))))-1)]
}
