package selfupdate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/update"
)

// fakeDownloader offers one release, or fails.
type fakeDownloader struct {
	target update.Target
	err    error
	skips  [][]string
}

func (d *fakeDownloader) Download(_ context.Context, kind update.Kind, installed string, skip []string, dir string) (update.Target, string, error) {
	d.skips = append(d.skips, slices.Clone(skip))
	if d.err != nil {
		return update.Target{}, "", d.err
	}
	if kind != update.KindCommandCenter || slices.Contains(skip, d.target.Name) || update.CompareVersions(d.target.Version, installed) <= 0 {
		return update.Target{}, "", update.ErrNoUpdate
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return update.Target{}, "", err
	}
	file := filepath.Join(dir, d.target.Name)
	return d.target, file, os.WriteFile(file, []byte("v2"), 0o755)
}

func target(version string) update.Target {
	return update.Target{Name: "commandcenter-" + version + "-fusionfleet",
		Release: update.Release{Kind: update.KindCommandCenter, Version: version, Models: []string{"linux/amd64"}}}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dl       *fakeDownloader
		probe    error
		wantErr  error
		wantExe  string
		wantLast string
	}{
		{name: "swapped", dl: &fakeDownloader{target: target("2.0.0")}, wantErr: ErrRestart, wantExe: "v2"},
		{name: "probe fails", dl: &fakeDownloader{target: target("2.0.0")}, probe: errors.New("exit status 1"),
			wantErr: ErrProbeFailed, wantExe: "v1", wantLast: "refused"},
		{name: "nothing newer", dl: &fakeDownloader{target: target("1.0.0")}, wantErr: update.ErrNoUpdate, wantExe: "v1"},
		{name: "tampered", dl: &fakeDownloader{err: &update.RefusedError{Reason: update.ErrTamperedTarget}},
			wantErr: update.ErrTamperedTarget, wantExe: "v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "linux")
			s := f.swapper("")
			var probed []string
			u := NewUpdater("1.0.0", tc.dl, s, func(_ context.Context, bin, version string) error {
				probed = append(probed, f.content(bin)+" as "+version)
				return tc.probe
			}, nil, Options{Clock: f.clk})
			if err := u.Check(t.Context()); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Check: %v, want %v", err, tc.wantErr)
			}
			if got := f.content(f.exe); got != tc.wantExe {
				t.Errorf("executable %q, want %q", got, tc.wantExe)
			}
			if tc.dl.err == nil && tc.wantErr != update.ErrNoUpdate && !slices.Equal(probed, []string{"v2 as 2.0.0"}) {
				t.Errorf("probed %v, want the new binary once, as 2.0.0", probed)
			}
			m := f.marker(s)
			if tc.wantLast != "" && (m.Last == nil || m.Last.Result != tc.wantLast) {
				t.Errorf("marker %+v, want the last upgrade %s", m, tc.wantLast)
			}
			if tc.probe != nil {
				// Refused for good: the next check skips it.
				if err := u.Check(t.Context()); !errors.Is(err, update.ErrNoUpdate) {
					t.Errorf("second Check: %v, want update.ErrNoUpdate", err)
				}
				if last := tc.dl.skips[len(tc.dl.skips)-1]; !slices.Contains(last, tc.dl.target.Name) {
					t.Errorf("second Check skipped %v, want the refused target", last)
				}
			}
		})
	}
}

// A trial is committed as soon as the node is healthy, or rolled back at
// its deadline, judged before the updater looks for releases.
func TestRunJudgesTheTrial(t *testing.T) {
	for _, tc := range []struct {
		name        string
		healthyFrom time.Duration // the node turns healthy after this long; < 0 never
		wantErr     error
		wantResult  string
		wantExe     string
	}{
		{name: "healthy at once", healthyFrom: 0, wantResult: "committed", wantExe: "v2"},
		{name: "healthy before the deadline", healthyFrom: 50 * time.Second, wantResult: "committed", wantExe: "v2"},
		{name: "never healthy", healthyFrom: -1, wantErr: ErrRestart, wantResult: "rolled back", wantExe: "v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, "linux")
				s, err := NewSwapper(f.exe, f.state, SwapOptions{GOOS: "linux", HealthTimeout: time.Minute, Clock: clock.Real{}})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Install(t.Context(), f.file, rel, probeOK); !errors.Is(err, ErrRestart) {
					t.Fatal(err)
				}
				if _, err := s.Boot("2.0.0"); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				health := func(context.Context) error {
					if tc.healthyFrom >= 0 && time.Since(start) >= tc.healthyFrom {
						return nil
					}
					return errors.New("no printer polled yet")
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				u := NewUpdater("2.0.0", nil, s, nil, health, Options{})
				done := make(chan error, 1)
				go func() { done <- u.Run(ctx) }()
				synctest.Wait()
				time.Sleep(2 * time.Minute)
				cancel()
				if err := <-done; !errors.Is(err, tc.wantErr) {
					t.Fatalf("Run: %v, want %v", err, tc.wantErr)
				}
				m := f.marker(s)
				if m.Last == nil || m.Last.Result != tc.wantResult || m.Phase != PhaseIdle {
					t.Errorf("marker %+v, want %s", m, tc.wantResult)
				}
				if got := f.content(f.exe); got != tc.wantExe {
					t.Errorf("executable %q, want %q", got, tc.wantExe)
				}
				if tc.wantResult == "rolled back" && !strings.Contains(m.Last.Reason, "no printer polled yet") {
					t.Errorf("reason %q, want the last health error", m.Last.Reason)
				}
			})
		})
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, "linux")
	s := f.swapper("")
	u := NewUpdater("1.0.0", &fakeDownloader{target: target("2.0.0")}, s, func(context.Context, string, string) error { return nil }, nil, Options{Clock: f.clk})
	if err := u.Check(t.Context()); !errors.Is(err, ErrRestart) {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(u)
	want := `
# HELP fusionfleet_commandcenter_build_info The running Command Center build: 1, labelled with its version.
# TYPE fusionfleet_commandcenter_build_info gauge
fusionfleet_commandcenter_build_info{version="1.0.0"} 1
# HELP fusionfleet_commandcenter_self_update_enabled 1 when the Command Center looks for new builds of itself, 0 when self-update is off.
# TYPE fusionfleet_commandcenter_self_update_enabled gauge
fusionfleet_commandcenter_self_update_enabled 1
# HELP fusionfleet_commandcenter_upgrade_pending 1 while an upgrade to the labelled version is under way (on trial or being swapped), else absent.
# TYPE fusionfleet_commandcenter_upgrade_pending gauge
fusionfleet_commandcenter_upgrade_pending{phase="trial",version="2.0.0"} 1
# HELP fusionfleet_commandcenter_upgrades_refused Releases of the Command Center refused (rolled back or failing their probe), never tried again.
# TYPE fusionfleet_commandcenter_upgrades_refused gauge
fusionfleet_commandcenter_upgrades_refused 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
