package cloud

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/i18n"
	"github.com/fusionfleet/fusionfleet/internal/notify"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
)

// updatesEnv is a node's store with one organisation that has an
// info-level webhook channel, the alert evaluator notifying through the
// real dispatcher, and the update service of a directory that holds no
// repository until initRepo.
type updatesEnv struct {
	db      *store.DB
	org     fleet.OrgID
	site    fleet.SiteID
	clk     *clock.Manual
	ev      *alert.Evaluator
	dir     string
	updates *updaterepo.Service
	seq     uint64
}

func newUpdatesEnv(t testing.TB) *updatesEnv {
	t.Helper()
	ctx := t.Context()
	db, err := openStore(ctx, t.TempDir(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &updatesEnv{db: db, clk: clock.NewManual(time.Now().Truncate(time.Second)), dir: t.TempDir()}
	if e.org, err = db.CreateOrg(ctx, "Acme"); err != nil {
		t.Fatal(err)
	}
	if e.site, err = db.CreateSite(ctx, e.org, "Plant"); err != nil {
		t.Fatal(err)
	}
	secret, err := notify.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateNotifyChannel(ctx, fleet.NotifyChannel{OrgID: e.org, Kind: fleet.ChannelWebhook, Name: "ops",
		Target: "https://127.0.0.1:9/hook", Secret: secret, MinSeverity: fleet.SeverityInfo, Created: e.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	disp, err := notify.New(db, notify.Options{Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	e.ev = alert.NewEvaluator(db, disp, alert.Options{Clock: e.clk})
	if e.updates, err = updaterepo.NewService(e.dir, updaterepo.ServiceOptions{Clock: e.clk}); err != nil {
		t.Fatal(err)
	}
	return e
}

// initRepo creates the update repository with releases, as the release
// tool would, and returns it as the service opened it.
func (e *updatesEnv) initRepo(t testing.TB, rels ...update.Release) *updaterepo.Repo {
	t.Helper()
	repo, err := updaterepo.InitRepo(e.dir, updaterepo.RepoOptions{Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	addReleases(t, repo, rels...)
	if repo, err = e.updates.Repo(); err != nil {
		t.Fatal(err)
	}
	return repo
}

func addReleases(t testing.TB, repo *updaterepo.Repo, rels ...update.Release) {
	t.Helper()
	for _, rel := range rels {
		body := "image of " + rel.Version
		name := string(rel.Kind) + "-" + rel.Version + ".bin"
		if _, err := repo.AddTarget(t.Context(), name, rel, strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
	}
}

// report stores an identity record of printer p, as its gateway sends it.
func (e *updatesEnv) report(t *testing.T, p fleet.PrinterID, model, firmware, params string) {
	t.Helper()
	e.seq++
	e.clk.Advance(time.Minute)
	r := storetest.IdentityRecord(e.seq, p, string(p), e.clk.Now())
	r.Identity.Model, r.Identity.Firmware, r.Identity.ParameterSet = model, firmware, params
	if _, err := e.db.ApplyEnvelope(t.Context(), storetest.Env(e.org, e.site, "gw", r)); err != nil {
		t.Fatal(err)
	}
}

// sweep is one sweep of the update alerts.
func (e *updatesEnv) sweep(t testing.TB) {
	t.Helper()
	if err := sweepUpdateAlerts(t.Context(), e.updates, e.db, e.ev); err != nil {
		t.Fatalf("sweep: %v", err)
	}
}

// updateAlert is what the test compares of an update alert.
type updateAlert struct {
	Printer       fleet.PrinterID
	Title, Detail string
	Revision      int
}

// active returns the active update alerts, by printer.
func (e *updatesEnv) active(t *testing.T) []updateAlert {
	t.Helper()
	all, err := e.db.Alerts(t.Context(), e.org, alert.Filter{Status: alert.ActiveOnly})
	if err != nil {
		t.Fatal(err)
	}
	var out []updateAlert
	for _, a := range all {
		if a.Rule == alert.RuleUpdateAvailable {
			if a.Severity != fleet.SeverityInfo {
				t.Errorf("alert %s has severity %s, want info", a.ID, a.Severity)
			}
			if !i18n.German.Has(a.Title) {
				t.Errorf("alert title %q has no German entry", a.Title)
			}
			out = append(out, updateAlert{a.PrinterID, a.Title, a.Detail, a.Revision})
		}
	}
	slices.SortFunc(out, func(a, b updateAlert) int { return strings.Compare(string(a.Printer), string(b.Printer)) })
	return out
}

// webhookDeliveries lists the notifications queued for the webhook, as
// "printer revision" (resolved ones with " resolved"), sorted.
func (e *updatesEnv) webhookDeliveries(t *testing.T) []string {
	t.Helper()
	ds, err := e.db.Deliveries(t.Context(), e.org, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		if d.Recipient.Kind != fleet.ChannelWebhook || d.Alert.Rule != alert.RuleUpdateAvailable {
			continue
		}
		s := fmt.Sprintf("%s %d", d.Alert.PrinterID, d.Alert.Revision)
		if !d.Alert.Active() {
			s += " resolved"
		}
		out = append(out, s)
	}
	slices.Sort(out) // one sweep queues its deliveries in no particular order
	return out
}

// TestUpdateAlerts runs the update sweep against a real store, repository
// and dispatcher: a printer on old versions gets one alert and one
// webhook notification, however often the sweep runs; a new release
// revises it (and notifies again); installing resolves it.
func TestUpdateAlerts(t *testing.T) {
	e := newUpdatesEnv(t)
	repo := e.initRepo(t,
		update.Release{Kind: update.KindFirmware, Version: "4.3.0", Models: []string{"Jet 4200"},
			Notes: "Fixes the lamp driver timing.\nAlso: faster homing."},
		update.Release{Kind: update.KindParameters, Version: "2.2", Name: "std-4200-2.2", Models: []string{"Jet 4200"}},
	)
	e.report(t, "printer-old", "Jet 4200", "4.2.0", "std-4200-2.1")
	e.report(t, "printer-new", "Jet 4200", "4.3.0", "std-4200-2.2")
	e.report(t, "printer-5200", "Jet 5200", "1.0.0", "std-5200-1.0") // no release fits it

	both := updateAlert{"printer-old", "Firmware and parameter set updates available",
		"Firmware 4.3.0 (running 4.2.0): Fixes the lamp driver timing; Parameter set std-4200-2.2 (running std-4200-2.1)", 1}
	steps := []struct {
		name       string
		do         func(t *testing.T)
		want       []updateAlert
		deliveries []string
	}{
		{"first sweep opens one alert", func(*testing.T) {}, []updateAlert{both}, []string{"printer-old 1"}},
		{"a second sweep notifies nobody again", func(*testing.T) {}, []updateAlert{both}, []string{"printer-old 1"}},
		{"a newer firmware is released", func(t *testing.T) {
			addReleases(t, repo, update.Release{Kind: update.KindFirmware, Version: "4.4.0", Models: []string{"Jet 4200"}})
		}, []updateAlert{
			{"printer-new", "Firmware update available", "Firmware 4.4.0 (running 4.3.0)", 1},
			{"printer-old", both.Title, "Firmware 4.4.0 (running 4.2.0); Parameter set std-4200-2.2 (running std-4200-2.1)", 2},
		}, []string{"printer-new 1", "printer-old 1", "printer-old 2"}},
		{"the old printer installs both", func(t *testing.T) {
			e.report(t, "printer-old", "Jet 4200", "4.4.0", "std-4200-2.2")
		}, []updateAlert{
			{"printer-new", "Firmware update available", "Firmware 4.4.0 (running 4.3.0)", 1},
		}, []string{"printer-new 1", "printer-old 1", "printer-old 2", "printer-old 3 resolved"}},
		{"the new printer installs the firmware", func(t *testing.T) {
			e.report(t, "printer-new", "Jet 4200", "4.4.0", "std-4200-2.2")
		}, nil, []string{"printer-new 1", "printer-new 2 resolved", "printer-old 1", "printer-old 2", "printer-old 3 resolved"}},
		{"nothing on offer: nothing more", func(*testing.T) {}, nil,
			[]string{"printer-new 1", "printer-new 2 resolved", "printer-old 1", "printer-old 2", "printer-old 3 resolved"}},
	}
	for _, s := range steps {
		s.do(t)
		e.clk.Advance(updateAlertsEvery)
		e.sweep(t)
		if diff := cmp.Diff(s.want, e.active(t)); diff != "" {
			t.Errorf("%s: active update alerts (-want +got):\n%s", s.name, diff)
		}
		if diff := cmp.Diff(s.deliveries, e.webhookDeliveries(t)); diff != "" {
			t.Errorf("%s: webhook deliveries (-want +got):\n%s", s.name, diff)
		}
	}
}

// TestUpdateAlertsMuted: an organisation that muted the rule hears nothing.
func TestUpdateAlertsMuted(t *testing.T) {
	e := newUpdatesEnv(t)
	e.initRepo(t, update.Release{Kind: update.KindFirmware, Version: "4.3.0", Models: []string{"Jet 4200"}})
	if err := e.db.SetRuleMuted(t.Context(), e.org, alert.RuleUpdateAvailable, true); err != nil {
		t.Fatal(err)
	}
	e.report(t, "printer-old", "Jet 4200", "4.2.0", "")
	e.sweep(t)
	if got, d := e.active(t), e.webhookDeliveries(t); len(got) != 0 || len(d) != 0 {
		t.Errorf("muted rule: alerts %+v, deliveries %v; want none", got, d)
	}
}

// sweepCounter is the store, telling the test of every sweep.
type sweepCounter struct {
	*store.DB
	swept chan struct{}
}

func (s sweepCounter) PrinterVersions(ctx context.Context) ([]alert.PrinterVersion, error) {
	defer func() {
		select {
		case s.swept <- struct{}{}:
		case <-ctx.Done():
		}
	}()
	return s.DB.PrinterVersions(ctx)
}

// TestUpdateAlertsWhenRepositoryAppears: the loop sweeps at once when a
// repository appears, not only every updateAlertsEvery.
func TestUpdateAlertsWhenRepositoryAppears(t *testing.T) {
	e := newUpdatesEnv(t)
	h := &heard{news: make(chan struct{})}
	ev := alert.NewEvaluator(e.db, h, alert.Options{Clock: e.clk})
	e.report(t, "printer-old", "Jet 4200", "4.2.0", "")
	st := sweepCounter{e.db, make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runUpdateAlerts(ctx, e.updates, st, ev, slog.New(slog.DiscardHandler)) }()
	<-st.swept                                                                                               // the first sweep, without a repository
	e.initRepo(t, update.Release{Kind: update.KindFirmware, Version: "4.3.0", Models: []string{"Jet 4200"}}) // opens it, as the re-sign loop does within a minute
	<-st.swept                                                                                               // woken by the repository, long before updateAlertsEvery
	h.wait(t, "the sweep after the repository appeared opened no alert")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runUpdateAlerts: %v", err)
	}
	want := []updateAlert{{"printer-old", "Firmware update available", "Firmware 4.3.0 (running 4.2.0)", 1}}
	if diff := cmp.Diff(want, e.active(t)); diff != "" {
		t.Errorf("active update alerts (-want +got):\n%s", diff)
	}
}

// TestRolloutHaltFromAlerts lets the rollout controller read a real store:
// printers on the new firmware raise failure alerts, those on the old one
// do not, and the target appears halted in /tuf/rollout.json.
func TestRolloutHaltFromAlerts(t *testing.T) {
	e := newUpdatesEnv(t)
	ctx := t.Context()
	repo := e.initRepo(t, update.Release{Kind: update.KindFirmware, Version: "4.3.0", Models: []string{"FF-4200"}})
	now := e.clk.Now()
	for i := range 10 {
		id := fleet.PrinterID(fmt.Sprintf("printer-%04d", i))
		fw := "4.2.0"
		if i < 5 {
			fw = "4.3.0"
		}
		rec := storetest.IdentityRecord(uint64(i+1), id, "P", now.Add(-time.Hour))
		rec.Identity.Model, rec.Identity.Firmware = "FF-4200", fw
		if _, err := e.db.ApplyEnvelope(ctx, storetest.Env(e.org, e.site, "gw", rec)); err != nil {
			t.Fatal(err)
		}
	}
	c := updaterepo.NewRolloutController(repo, storeFailures{e.db}, updaterepo.ControllerOptions{Clock: e.clk})
	// First look: no failures; the target's failure window starts now.
	if got, err := c.Evaluate(ctx); err != nil || len(got) != 0 {
		t.Fatalf("first Evaluate = %v, %v", got, err)
	}
	// Three of the five printers on 4.3.0 fail; a failure from before the
	// release does not count against it.
	for i, at := range []time.Time{now.Add(-time.Minute), now.Add(time.Minute), now.Add(2 * time.Minute), now.Add(3 * time.Minute)} {
		p := i
		if i == 0 {
			p = 4
		}
		a := alert.State{Alert: fleet.Alert{ID: fleet.AlertID(fmt.Sprintf("alr_%d", i)), OrgID: e.org, SiteID: e.site,
			PrinterID: fleet.PrinterID(fmt.Sprintf("printer-%04d", p)), Rule: alert.RuleStalledJob, Severity: fleet.SeverityError,
			Title: "t", Opened: at, Updated: at, Revision: 1}, Seen: at}
		if err := e.db.SaveAlert(ctx, a, 0); err != nil {
			t.Fatal(err)
		}
	}
	e.clk.Advance(time.Hour)
	got, err := c.Evaluate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const target = "firmware-4.3.0.bin"
	if diff := cmp.Diff([]string{target}, got); diff != "" {
		t.Errorf("halted (-want +got):\n%s", diff)
	}
	srv := httptest.NewTLSServer(e.updates.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/tuf/rollout.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"halted":["`+target+`"]`) {
		t.Errorf("rollout.json = %d %s", resp.StatusCode, body)
	}
}

// BenchmarkUpdateAlertsSweep measures one update sweep over 10,000
// printers of one organisation: with nothing on offer, and with an offer
// for every printer whose alert is already open (the steady state after
// a release: two store reads per printer, no write, no notification).
func BenchmarkUpdateAlertsSweep(b *testing.B) {
	const printers = 10000
	for _, offered := range []bool{false, true} {
		b.Run(fmt.Sprintf("offered=%v", offered), func(b *testing.B) {
			e := newUpdatesEnv(b)
			fw := "4.3.0"
			if offered {
				fw = "4.2.0"
			}
			e.initRepo(b, update.Release{Kind: update.KindFirmware, Version: "4.3.0", Models: []string{"Jet 4200"}})
			recs := make([]fleet.Record, printers)
			for i := range recs {
				p := fleet.PrinterID(fmt.Sprintf("printer-%05d", i))
				recs[i] = storetest.IdentityRecord(uint64(i+1), p, string(p), e.clk.Now())
				recs[i].Identity.Firmware = fw
			}
			if _, err := e.db.ApplyEnvelope(b.Context(), storetest.Env(e.org, e.site, "gw", recs...)); err != nil {
				b.Fatal(err)
			}
			e.sweep(b) // opens the alerts
			for b.Loop() {
				e.clk.Advance(updateAlertsEvery)
				e.sweep(b)
			}
			b.ReportMetric(printers, "printers/op")
		})
	}
}
