package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/wait"
	"github.com/prometheus/client_golang/prometheus"
)

// Issue 13: the demo opens with a simulated past and anonymous peers.
// Right after its start has filled the past, the benchmark shows bands,
// the 30-day KPIs cover many days, and the peers' printers are none of
// the demo user's; a second start on the same data fills nothing again.
func TestDemoHistoryAndPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system with peers and fills days of past")
	}
	data := t.TempDir()
	// The benchmark compares whole calendar months: the past reaches three
	// days into the last one, and no further, to keep the test short.
	days := time.Now().UTC().Day() + 3
	flags := []string{"-printers", "2", "-history", fmt.Sprint(days), "-peers", "6", "-poll", "500ms", "-speed", "600"}
	start := time.Now()
	d := startDemoRunIn(t, data, flags...)
	if err := wait.Until(time.Duration(days)*time.Second+90*time.Second, 200*time.Millisecond, func() error {
		if d.out.get("history") == "" {
			return fmt.Errorf("no history line")
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, d.logs)
	}
	if got, want := d.out.get("history"), fmt.Sprintf("%d.0 days filled in ", days); !strings.HasPrefix(got, want) {
		t.Errorf("first start: history %q, want it to begin %q", got, want)
	}
	t.Logf("%d days of past filled %v after start: %s", days, time.Since(start).Round(time.Second), d.out.get("history"))

	base := d.out.get("cloud")
	user, password, _ := strings.Cut(d.out.get("login"), " ")
	jar, _ := cookiejar.New(nil)
	// A minute: right after the fill, the store is still busy with the
	// past's last batches, and under the race detector on a shared
	// machine a login waits its turn behind them.
	client := &http.Client{Jar: jar, Timeout: time.Minute}
	login(t, client, base, user, password, http.StatusOK)
	token := apiToken(t, client, base)
	api := func(path string, v any) error {
		req, _ := http.NewRequest(http.MethodGet, base+"api/v1/"+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}

	// The data of the past's last minutes may still be on its way (bulk
	// data leaves the Command Centers every half minute; under the race
	// detector, beside the other packages' tests, the store takes minutes
	// to catch up with seven sites' past).
	err := wait.Until(4*time.Minute, time.Second, func() error {
		var bench struct {
			Bands []struct {
				Key      string `json:"key"`
				TooSmall bool   `json:"too_small"`
			} `json:"bands"`
		}
		if err := api("benchmark?model=FF-4200&period=1m", &bench); err != nil {
			return err
		}
		var shown []string
		for _, b := range bench.Bands {
			if !b.TooSmall {
				shown = append(shown, b.Key)
			}
		}
		if len(shown) == 0 {
			return fmt.Errorf("benchmark of FF-4200 last month: every band too small (%+v)", bench.Bands)
		}
		var kpis struct {
			Days []json.RawMessage `json:"days"`
		}
		if err := api("kpis?period=30d", &kpis); err != nil {
			return err
		}
		if want := min(days, 30) / 2; len(kpis.Days) < want {
			return fmt.Errorf("30-day KPIs have %d days with data, want at least %d", len(kpis.Days), want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, d.logs)
	}

	// The peers' printers are their own: the demo user lists only the
	// demo's, and a peer's printer is not found.
	var printers []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := api("printers", &printers); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range printers {
		names = append(names, p.Name)
	}
	if len(printers) != 2 || strings.Contains(strings.Join(names, ","), "Peer") {
		t.Errorf("the demo user's printers: %v, want the demo's two only", names)
	}
	peer := printer.New(printer.Options{Seed: 1001}).Identity().PrinterID // startDemoPeer's seeds
	var none any
	if err := api("printers/"+url.PathEscape(string(peer)), &none); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a peer's printer through the demo user's API: %v, want 404", err)
	}
	d.stop(t)

	second := startDemoRunIn(t, data, flags...)
	if err := wait.Until(30*time.Second, 100*time.Millisecond, func() error {
		if second.out.get("history") == "" {
			return fmt.Errorf("no history line")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := second.out.get("history"); !strings.HasPrefix(got, "nothing to fill") {
		t.Errorf("second start on the same data: history %q, want nothing to fill", got)
	}
	second.stop(t)
}

var apiTokenField = regexp.MustCompile(`value="([^"]+)"[^>]*data-api-token`)

// apiToken creates a read-only API token through the dashboard.
func apiToken(t *testing.T, client *http.Client, base string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(getBody(t, client, base+"tokens"))
	if m == nil {
		t.Fatal("tokens page has no CSRF field")
	}
	req, _ := http.NewRequest(http.MethodPost, base+"tokens", strings.NewReader(url.Values{
		"csrf": {m[1]}, "name": {"test"}, "scope": {"read"},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", strings.TrimSuffix(base, "/"))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tm := apiTokenField.FindStringSubmatch(string(b))
	if resp.StatusCode != http.StatusOK || tm == nil {
		t.Fatalf("create API token: %s, no token in the page", resp.Status)
	}
	return tm[1]
}

// Bulk data goes every five demo minutes, but no more often than the
// uploader wakes: the dashboard's label says the real interval.
func TestDemoBulkReal(t *testing.T) {
	for _, tt := range []struct {
		speed float64
		poll  time.Duration
		want  time.Duration
	}{
		{60, 2 * time.Second, 5 * time.Second},
		{1, 2 * time.Second, 5 * time.Minute},
		{600, 500 * time.Millisecond, 500 * time.Millisecond},
	} {
		if got := demoBulkReal(tt.speed, tt.poll); got != tt.want {
			t.Errorf("demoBulkReal(%v, %v) = %v, want %v", tt.speed, tt.poll, got, tt.want)
		}
	}
}

// fakeFill is a demo clock that reports the progress it is told.
type fakeFill struct {
	mu    sync.Mutex
	p     float64
	at    time.Time
	reads int
}

func (f *fakeFill) Progress() (float64, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.p, f.at
}

// read waits until showFill has read the clock at least n times.
func (f *fakeFill) read(n int) {
	for {
		f.mu.Lock()
		r := f.reads
		f.mu.Unlock()
		if r >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *fakeFill) Speed() float64 { return 60 }

func (f *fakeFill) set(p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.p = p
}

// showFill prints progress lines while the clock fills the past, waits for
// the Command Centers' upload, and ends with one history line; it says so
// when the upload outlasts its patience, reports a failing outbox, and
// has nothing to fill when the clock needs none.
func TestShowFill(t *testing.T) {
	started := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	from := started.AddDate(0, 0, -10)
	run := func(f fill, steps func(*fakeFill)) (string, string, error) {
		clk := f.clk.(*fakeFill)
		var out, errOut strings.Builder
		done := make(chan error, 1)
		go func() {
			done <- showFill(t.Context(), f, env{stdout: &syncBuilder{b: &out}, stderr: &syncBuilder{b: &errOut}})
		}()
		steps(clk)
		select {
		case err := <-done:
			return out.String(), errOut.String(), err
		case <-time.After(10 * time.Second):
			t.Fatal("showFill did not end")
			return "", "", nil
		}
	}
	// later1 lets showFill begin below 1, then completes the clock.
	later1 := func(c *fakeFill) {
		c.read(2)
		c.set(1)
	}
	left, asked := 500, 0
	var mu sync.Mutex
	pending := func(context.Context) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		return left, nil
	}
	// askedTwice waits until showFill asked for the backlog twice since
	// the last change: the line of the first answer is written by then.
	askedTwice := func() {
		mu.Lock()
		asked = 0
		mu.Unlock()
		for {
			mu.Lock()
			n := asked
			mu.Unlock()
			if n >= 2 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	batches := 0
	storing := func() (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return batches, nil
	}
	f := fill{clk: &fakeFill{at: from}, from: from, started: started, pending: pending, storing: storing,
		drained: 50, stored: 2, patience: time.Minute, tick: time.Millisecond}
	out, progress, err := run(f, func(c *fakeFill) {
		for i, p := range []float64{0.25, 0.5} {
			c.read(2 * (i + 1))
			c.set(p)
		}
		c.read(6)
		c.set(1)
		askedTwice()
		mu.Lock()
		left, batches = 10, 40 // uploaded, not yet stored
		mu.Unlock()
		c.read(12)
		mu.Lock()
		batches = 1
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "history: 10.0 days filled in ") || strings.Contains(out, "on their way") {
		t.Errorf("history line %q, want the ten days filled and uploaded", out)
	}
	for _, want := range []string{"filling the past:   0%", "filling the past:  25%", "filling the past:  50%",
		"uploading: 500 records, storing: 0 batches"} {
		if !strings.Contains(progress, want) {
			t.Errorf("progress lacks %q:\n%s", want, progress)
		}
	}

	f.clk, f.patience = &fakeFill{p: 0.5, at: started}, 30*time.Millisecond
	mu.Lock()
	left = 500
	mu.Unlock()
	if out, _, _ := run(f, later1); !strings.Contains(out, "(500 records and 1 batches still on their way)") {
		t.Errorf("upload outlasting the patience: %q, want the records left named", out)
	}

	f.clk = &fakeFill{p: 0.5, at: started}
	f.storing = func() (int, error) { return 0, errors.New("no metrics") }
	if out, _, err := run(f, later1); err == nil || !strings.Contains(err.Error(), "no metrics") {
		t.Errorf("failing metrics: %v (%q), want their error", err, out)
	}
	f.clk = &fakeFill{p: 0.5, at: started}
	f.pending = func(context.Context) (int, error) { return 0, errors.New("disk gone") }
	if out, _, err := run(f, later1); err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Errorf("failing outbox: %v (%q), want its error", err, out)
	}

	f.clk, f.from = &fakeFill{p: 1, at: started.Add(time.Hour)}, started.Add(time.Hour)
	if out, _, err := run(f, func(*fakeFill) {}); err != nil || !strings.HasPrefix(out, "history: nothing to fill; the demo clock reads 2026-12-07 09:00") {
		t.Errorf("nothing to fill: %q, %v", out, err)
	}
}

// syncBuilder is a strings.Builder safe for concurrent use.
type syncBuilder struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncBuilder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// The store's backlog is the stream consumer's lag in the cloud's metrics;
// before anything was consumed there is none.
func TestStreamBacklog(t *testing.T) {
	reg := prometheus.NewRegistry()
	if n, err := streamBacklog(reg)(); n != 0 || err != nil {
		t.Errorf("no metric yet: %d, %v; want 0", n, err)
	}
	vec := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fusionfleet_stream_consumer_pending", Help: "h"}, []string{"consumer"})
	reg.MustRegister(vec)
	vec.WithLabelValues("alerts").Set(3)
	vec.WithLabelValues(cloud.StoreConsumer).Set(7)
	if n, err := streamBacklog(reg)(); n != 7 || err != nil {
		t.Errorf("store consumer 7 behind: %d, %v", n, err)
	}
}

// The demo clock starts days back on the first start, where it stood on a
// later one, but never more than days back; a damaged clock file is an
// error that says how to start over.
func TestDemoClockStart(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, file string // file "" → none
		want       time.Time
		wantErr    string
	}{
		{"first start", "", now.AddDate(0, 0, -60), ""},
		{"ran ahead", now.Add(3 * time.Hour).Format(time.RFC3339Nano), now.Add(3 * time.Hour), ""},
		{"stopped a day", now.AddDate(0, 0, -1).Format(time.RFC3339Nano), now.AddDate(0, 0, -1), ""},
		{"stopped for a year", now.AddDate(-1, 0, 0).Format(time.RFC3339Nano), now.AddDate(0, 0, -60), ""},
		{"damaged", "yesterday", time.Time{}, "remove the file to fill the past again"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(data, demoClockFile), []byte(tt.file+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := demoClockStart(data, now, 60)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("demoClockStart = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	// What saveDemoClock writes, demoClockStart reads.
	data := t.TempDir()
	at := now.Add(90 * time.Minute)
	if err := saveDemoClock(data, at); err != nil {
		t.Fatal(err)
	}
	if got, err := demoClockStart(data, now, 60); err != nil || !got.Equal(at) {
		t.Errorf("after saveDemoClock(%v): %v, %v", at, got, err)
	}
	if err := saveDemoClock(filepath.Join(data, "missing", "dir"), at); err == nil {
		t.Error("saveDemoClock into a missing directory: no error")
	}
}
