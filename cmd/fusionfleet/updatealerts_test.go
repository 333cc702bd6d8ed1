package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
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
)

// updateAlertsEnv is a cloud's store with one organisation that has an
// info-level webhook channel, the alert evaluator notifying through the
// real dispatcher, and the update repository in dir.
type updateAlertsEnv struct {
	db   *store.DB
	org  fleet.OrgID
	site fleet.SiteID
	clk  *clock.Manual
	ev   *alert.Evaluator
	dir  string
	seq  uint64
}

func newUpdateAlertsEnv(t testing.TB) *updateAlertsEnv {
	t.Helper()
	ctx := t.Context()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "cloud.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &updateAlertsEnv{db: db, clk: clock.NewManual(time.Now().Truncate(time.Second)), dir: t.TempDir()}
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
	return e
}

// initRepo creates the update repository with releases, as the release
// tool would.
func (e *updateAlertsEnv) initRepo(t testing.TB, rels ...update.Release) {
	t.Helper()
	repo, err := update.InitRepo(e.dir, update.RepoOptions{Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	addReleases(t, repo, rels...)
}

func addReleases(t testing.TB, repo *update.Repo, rels ...update.Release) {
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
func (e *updateAlertsEnv) report(t *testing.T, p fleet.PrinterID, model, firmware, params string) {
	t.Helper()
	e.seq++
	e.clk.Advance(time.Minute)
	r := storetest.IdentityRecord(e.seq, p, string(p), e.clk.Now())
	r.Identity.Model, r.Identity.Firmware, r.Identity.ParameterSet = model, firmware, params
	if _, err := e.db.ApplyEnvelope(t.Context(), storetest.Env(e.org, e.site, "gw", r)); err != nil {
		t.Fatal(err)
	}
}

// updateAlert is what the test compares of an update alert.
type updateAlert struct {
	Printer       fleet.PrinterID
	Title, Detail string
	Revision      int
}

// active returns the active update alerts, by printer.
func (e *updateAlertsEnv) active(t *testing.T) []updateAlert {
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
func (e *updateAlertsEnv) webhookDeliveries(t *testing.T) []string {
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

// TestUpdateAlerts runs the cloud's update sweep against a real store,
// repository and dispatcher: a printer on old versions gets one alert and
// one webhook notification, however often the sweep runs; a new release
// revises it (and notifies again); installing resolves it.
func TestUpdateAlerts(t *testing.T) {
	e := newUpdateAlertsEnv(t)
	e.initRepo(t,
		update.Release{Kind: update.KindFirmware, Version: "4.3.0", Models: []string{"Jet 4200"},
			Notes: "Fixes the lamp driver timing.\nAlso: faster homing."},
		update.Release{Kind: update.KindParameters, Version: "2.2", Name: "std-4200-2.2", Models: []string{"Jet 4200"}},
	)
	u, err := newCloudUpdates(e.dir, "", e.clk, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
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
			repo, err := u.open()
			if err != nil {
				t.Fatal(err)
			}
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
		if err := u.sweepUpdateAlerts(t.Context(), e.db, e.ev); err != nil {
			t.Fatalf("%s: sweep: %v", s.name, err)
		}
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
	e := newUpdateAlertsEnv(t)
	e.initRepo(t, update.Release{Kind: update.KindFirmware, Version: "4.3.0", Models: []string{"Jet 4200"}})
	u, err := newCloudUpdates(e.dir, "", e.clk, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetRuleMuted(t.Context(), e.org, alert.RuleUpdateAvailable, true); err != nil {
		t.Fatal(err)
	}
	e.report(t, "printer-old", "Jet 4200", "4.2.0", "")
	if err := u.sweepUpdateAlerts(t.Context(), e.db, e.ev); err != nil {
		t.Fatal(err)
	}
	if got, d := e.active(t), e.webhookDeliveries(t); len(got) != 0 || len(d) != 0 {
		t.Errorf("muted rule: alerts %+v, deliveries %v; want none", got, d)
	}
}

// sweepCounter is the cloud's store, telling the test of every sweep.
type sweepCounter struct {
	*store.DB
	swept chan struct{}
}

func (s sweepCounter) PrinterVersions(ctx context.Context) ([]alert.PrinterVersion, error) {
	defer func() { s.swept <- struct{}{} }()
	return s.DB.PrinterVersions(ctx)
}

// TestUpdateAlertsWhenRepositoryAppears: the loop sweeps at once when a
// repository appears, not only every updateAlertsEvery.
func TestUpdateAlertsWhenRepositoryAppears(t *testing.T) {
	e := newUpdateAlertsEnv(t)
	u, err := newCloudUpdates(e.dir, "", e.clk, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e.report(t, "printer-old", "Jet 4200", "4.2.0", "")
	st := sweepCounter{e.db, make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- u.RunUpdateAlerts(ctx, st, e.ev) }()
	<-st.swept // the first sweep, without a repository
	e.initRepo(t, update.Release{Kind: update.KindFirmware, Version: "4.3.0", Models: []string{"Jet 4200"}})
	if _, err := u.open(); err != nil { // as Run does within a minute
		t.Fatal(err)
	}
	<-st.swept
	waitForAlerts(t, func() bool { return len(e.active(t)) > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunUpdateAlerts: %v", err)
	}
	want := []updateAlert{{"printer-old", "Firmware update available", "Firmware 4.3.0 (running 4.2.0)", 1}}
	if diff := cmp.Diff(want, e.active(t)); diff != "" {
		t.Errorf("active update alerts (-want +got):\n%s", diff)
	}
}

// TestPublishWakesUpdateAlerts: a publish that changed the repository
// wakes the update alerts at once; one that changed nothing does not.
func TestPublishWakesUpdateAlerts(t *testing.T) {
	f := newCloudRepoFixture(t, true)
	pending := func() bool {
		select {
		case <-f.updates.changed:
			return true
		default:
			return false
		}
	}
	pending() // opening the repository at start
	f.releaseTool(t, "add-target", "-dir", f.release, "-kind", "firmware", "-version", "4.3.0", "-models", "FF-4200", f.firmware)
	for i, want := range []bool{true, false} {
		if code, _, stderr := runArgs(t, f.publishArgs(f.release, f.tokenFile)...); code != 0 {
			t.Fatalf("publish %d: exit %d: %s", i+1, code, stderr)
		}
		if got := pending(); got != want {
			t.Errorf("after publish %d: update alerts woken = %v, want %v", i+1, got, want)
		}
	}
}
