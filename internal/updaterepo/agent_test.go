package updaterepo

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// The virtual printer is what the agent updates in the demo.
var _ update.Device = (*printer.Printer)(nil)

func TestAgentUpdatesVirtualPrinter(t *testing.T) {
	f := newFixture(t)
	p := printer.New(printer.Options{Model: "4200", Seed: 1, Clock: f.clk})
	id := p.Identity()
	f.release(firmware("4.3.0", id.Model))
	f.release(paramSet("2.2", "std-4200-2.2"))
	c, err := update.NewClient(f.state, f.root, f.mirror.srv.URL, id.Model, update.Options{
		Clock: f.clk, HTTPClient: f.mirror.srv.Client(),
		Factory: map[update.Kind]update.Slot{update.KindFirmware: {Version: id.Firmware}, update.KindParameters: {Version: "2.1", Name: id.ParameterSet}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The start check reads back what the printer reports, and refuses
	// parameter set 2.3.
	check := func(ctx context.Context, in update.Installed) error {
		got := p.Identity()
		if in.Kind == update.KindParameters && in.Version == "2.3" {
			return errors.New("parameter set 2.3 rejected by the process check")
		}
		if got.Firmware != in.Name && got.ParameterSet != in.Name {
			t.Errorf("printer reports firmware %s and parameters %s during the start of %s", got.Firmware, got.ParameterSet, in.Name)
		}
		return nil
	}
	a := update.NewAgent(c, p, update.AgentOptions{StartCheck: check})
	if errs := a.Check(t.Context()); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := p.Identity(); got.Firmware != "4.3.0" || got.ParameterSet != "std-4200-2.2" {
		t.Errorf("after update: firmware %s, parameters %s", got.Firmware, got.ParameterSet)
	}

	f.release(paramSet("2.3", "std-4200-2.3"))
	errs := a.Check(t.Context())
	if len(errs) != 1 || !errors.Is(errs[0], update.ErrStartFailed) {
		t.Fatalf("got %v, want one update.ErrStartFailed", errs)
	}
	if got := p.Identity().ParameterSet; got != "std-4200-2.2" {
		t.Errorf("after failed start the printer runs parameters %s, want std-4200-2.2", got)
	}
}

func TestAgentHoldsUntilApproved(t *testing.T) {
	f := newFixture(t)
	p := printer.New(printer.Options{Model: "4200", Seed: 1, Clock: f.clk})
	id := p.Identity()
	fw := f.release(firmware("4.3.0", id.Model))
	c := f.client(id.Model)
	approved := map[string]bool{}
	var asked []string
	a := update.NewAgent(c, p, update.AgentOptions{Kinds: []update.Kind{update.KindFirmware}, Approved: func(_ context.Context, tg update.Target) (bool, error) {
		asked = append(asked, tg.Name)
		return approved[tg.Name], nil
	}})
	if errs := a.Check(t.Context()); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := p.Identity().Firmware; got != id.Firmware {
		t.Fatalf("unapproved release installed: firmware %s", got)
	}
	approved[fw.Name] = true
	if errs := a.Check(t.Context()); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := p.Identity().Firmware; got != "4.3.0" {
		t.Errorf("approved release not installed: firmware %s", got)
	}
	if len(asked) != 2 || asked[0] != fw.Name {
		t.Errorf("asked about %v, want %s twice", asked, fw.Name)
	}

	// An error asking holds the release too, and says so.
	f.release(firmware("4.4.0", id.Model))
	a = update.NewAgent(c, p, update.AgentOptions{Kinds: []update.Kind{update.KindFirmware}, Approved: func(context.Context, update.Target) (bool, error) {
		return false, errors.New("command center unreachable")
	}})
	if errs := a.Check(t.Context()); len(errs) != 1 {
		t.Errorf("errors = %v, want one", errs)
	}
	if got := p.Identity().Firmware; got != "4.3.0" {
		t.Errorf("firmware %s after a failed approval check, want 4.3.0", got)
	}
}

// logCounter counts log records by level and message.
type logCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[r.Level.String()+" "+r.Message]++
	return nil
}
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCounter) WithGroup(string) slog.Handler      { return c }
func (c *logCounter) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// A mirror that is down is logged once, not at every check and for every
// kind, and its return once.
func TestAgentLogsALastingProblemOnce(t *testing.T) {
	f := newFixture(t)
	var down atomic.Bool
	var checks atomic.Int32
	checked := make(chan struct{}, 1000) // a value for each check, up to its capacity
	down.Store(true)
	f.mirror.set("/tuf/metadata/timestamp.json", func(w http.ResponseWriter, r *http.Request) {
		checks.Add(1)
		select {
		case checked <- struct{}{}:
		default:
		}
		if down.Load() {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, filepath.Join(f.repo.Dir(), update.MetadataDir, "timestamp.json"))
	})
	logs := &logCounter{n: map[string]int{}}
	a := update.NewAgent(f.client("FF-4200"), f.dev, update.AgentOptions{Interval: 5 * time.Millisecond, Logger: slog.New(logs)})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	// The agent checks every few milliseconds; a hang fails through the
	// test's timeout.
	waitChecks := func(n int) {
		for range n {
			<-checked
		}
	}
	waitChecks(5)
	down.Store(false)
	for range len(checked) { // checks that began while the mirror was down
		<-checked
	}
	waitChecks(3)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := logs.count("WARN update check"); got != 1 {
		t.Errorf("%d warnings over %d checks of a mirror that was down, want 1", got, checks.Load())
	}
	if got := logs.count("INFO update checks work again"); got != 1 {
		t.Errorf("%d notes of the mirror's return, want 1", got)
	}
}

// The printer applies the content of a parameter set it installs; a file
// it cannot read fails the start and it keeps the set it had.
func TestAgentAppliesParameterSetContent(t *testing.T) {
	f := newFixture(t)
	p := printer.New(printer.Options{Model: "4200", Seed: 1, Clock: f.clk})
	good := fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "learn-4200-1", Model: model4200,
		Materials: map[string]fleet.MaterialParameters{"PA12": {PrintMode: "robust", LayerThicknessMM: 0.09}}}
	doc, err := good.Encode()
	if err != nil {
		t.Fatal(err)
	}
	f.releaseContent(paramSet("2.2", "learn-4200-1"), "parameters-2.2-set.json", doc)
	c := f.client(model4200)
	a := update.NewAgent(c, p, update.AgentOptions{Kinds: []update.Kind{update.KindParameters}})
	if errs := a.Check(t.Context()); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := p.Identity().ParameterSet; got != "learn-4200-1" {
		t.Fatalf("printer reports %q", got)
	}
	f.releaseContent(paramSet("2.3", "broken-4200"), "parameters-2.3-set.json", []byte(`{"layer_um":80}`))
	errs := a.Check(t.Context())
	if len(errs) != 1 || !errors.Is(errs[0], update.ErrStartFailed) {
		t.Fatalf("got %v, want one update.ErrStartFailed", errs)
	}
	if got := p.Identity().ParameterSet; got != "learn-4200-1" {
		t.Errorf("after a refused set the printer reports %q, want learn-4200-1", got)
	}
	planned := func() (n int, robust bool) {
		robust = true
		for _, j := range p.Jobs(0, 1000).Items {
			if j.Material == "PA12" && j.LayerThicknessMM == 0.09 {
				n++
				robust = robust && j.PrintMode == "robust"
			}
		}
		return n, robust
	}
	f.clk.Advance(40 * 24 * time.Hour)
	if n, robust := planned(); n == 0 || !robust {
		t.Errorf("%d PA12 jobs planned at 0.09 mm (all robust: %v); want some, all robust", n, robust)
	}

	// A restarted agent applies the installed set again.
	p2 := printer.New(printer.Options{Model: "4200", Seed: 1, Clock: f.clk})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := update.NewAgent(f.client(model4200), p2, update.AgentOptions{Kinds: []update.Kind{update.KindParameters}}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := p2.Identity().ParameterSet; got != "learn-4200-1" {
		t.Errorf("after restart the printer reports %q", got)
	}
}
