package selfupdate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
)

// fixture is an executable "v1" and a downloaded "v2" in a temporary
// directory, for the platform goos.
type fixture struct {
	t         *testing.T
	exe, file string
	state     string
	goos      string
	clk       *clock.Manual
}

func newFixture(t *testing.T, goos string) *fixture {
	t.Helper()
	dir := t.TempDir()
	name := "fusionfleet"
	if goos == "windows" {
		name += ".exe"
	}
	f := &fixture{t: t, exe: filepath.Join(dir, "bin", name), file: filepath.Join(dir, "download", "v2"),
		state: filepath.Join(dir, "data", "selfupdate"), goos: goos, clk: clock.NewManual(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))}
	for p, body := range map[string]string{f.exe: "v1", f.file: "v2"} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// swapper returns a swapper that crashes at the point named, if any.
func (f *fixture) swapper(crashAt string) *Swapper {
	f.t.Helper()
	s, err := NewSwapper(f.exe, f.state, SwapOptions{GOOS: f.goos, Clock: f.clk, MaxAttempts: 2, HealthTimeout: time.Minute,
		crash: func(p string) bool { return p == crashAt }})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) content(path string) string {
	f.t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "(none)"
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func (f *fixture) marker(s *Swapper) Marker {
	f.t.Helper()
	m, err := s.Marker()
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

var rel = Release{From: "1.0.0", To: "2.0.0", Target: "fusionfleet-2.0.0-linux-amd64"}

func probeOK(context.Context, string) error { return nil }

func TestInstallCommits(t *testing.T) {
	for _, goos := range []string{"linux", "windows"} {
		t.Run(goos, func(t *testing.T) {
			f := newFixture(t, goos)
			s := f.swapper("")
			var probed string
			err := s.Install(t.Context(), f.file, rel, func(_ context.Context, bin string) error {
				probed = f.content(bin)
				return nil
			})
			if !errors.Is(err, ErrRestart) {
				t.Fatalf("Install: %v, want ErrRestart", err)
			}
			if probed != "v2" {
				t.Errorf("probe ran %q, want the new binary", probed)
			}
			if got, prev := f.content(f.exe), f.content(s.Previous()); got != "v2" || prev != "v1" {
				t.Errorf("after the swap: executable %q, previous %q; want v2, v1", got, prev)
			}
			trial, err := s.Boot("2.0.0")
			if err != nil || !trial {
				t.Fatalf("Boot of the new binary: trial %v, %v", trial, err)
			}
			if err := s.Healthy(); err != nil {
				t.Fatal(err)
			}
			m := f.marker(s)
			if m.Phase != PhaseIdle || m.Last == nil || m.Last.Result != "committed" || m.Last.To != "2.0.0" {
				t.Errorf("marker after commit: %+v", m)
			}
			if trial, err := s.Boot("2.0.0"); trial || err != nil {
				t.Errorf("Boot after commit: trial %v, %v; want a plain start", trial, err)
			}
		})
	}
}

func TestProbeFailureRefusesBeforeAnySwap(t *testing.T) {
	f := newFixture(t, "linux")
	s := f.swapper("")
	err := s.Install(t.Context(), f.file, rel, func(context.Context, string) error { return errors.New("exit status 1") })
	if !errors.Is(err, ErrProbeFailed) {
		t.Fatalf("Install: %v, want ErrProbeFailed", err)
	}
	if got := f.content(f.exe); got != "v1" {
		t.Errorf("executable %q after a failed probe, want v1", got)
	}
	if got := f.content(s.Next()); got != "(none)" {
		t.Errorf("the probed binary stayed: %q", got)
	}
	m := f.marker(s)
	if m.Phase != PhaseIdle || !slices.Contains(m.Refused, rel.Target) {
		t.Errorf("marker %+v: want idle with %s refused", m, rel.Target)
	}
}

// A crash at each point of the install leaves a state the next start
// finishes: the new binary ends up installed and on trial, the old one
// kept as previous.
func TestInstallResumesAfterACrashAtEachStep(t *testing.T) {
	for _, tc := range []struct {
		goos, point string
		swapped     bool // whether the crash left the swap for Boot to finish
	}{
		{"linux", "probed", false},
		{"linux", "kept", true},
		{"linux", "swapped", true},
		{"windows", "probed", false},
		{"windows", "moved-away", true},
		{"windows", "swapped", true},
	} {
		t.Run(tc.goos+"/"+tc.point, func(t *testing.T) {
			f := newFixture(t, tc.goos)
			if err := f.swapper(tc.point).Install(t.Context(), f.file, rel, probeOK); !errors.Is(err, errCrash) {
				t.Fatalf("Install: %v, want the simulated crash", err)
			}
			s := f.swapper("")
			// The service manager starts whatever is there: the old
			// binary, unless the crash came after the rename.
			_, err := s.Boot("1.0.0")
			if !tc.swapped {
				if err != nil || f.content(f.exe) != "v1" || f.marker(s).Phase != PhaseIdle {
					t.Fatalf("Boot after a crash before the swap: %v, executable %q, marker %+v; want v1 idle", err, f.content(f.exe), f.marker(s))
				}
				if got := f.content(s.Next()); got != "(none)" {
					t.Errorf("the probed binary stayed: %q", got)
				}
				// The next check downloads and installs it again.
				if err := os.WriteFile(f.file, []byte("v2"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := s.Install(t.Context(), f.file, rel, probeOK); !errors.Is(err, ErrRestart) {
					t.Fatalf("Install again: %v", err)
				}
			} else if !errors.Is(err, ErrRestart) {
				t.Fatalf("Boot of the old binary after the swap: %v, want ErrRestart", err)
			}
			if got, prev := f.content(f.exe), f.content(s.Previous()); got != "v2" || prev != "v1" {
				t.Fatalf("executable %q, previous %q; want v2, v1", got, prev)
			}
			if trial, err := s.Boot("2.0.0"); err != nil || !trial {
				t.Fatalf("Boot of the new binary: trial %v, %v", trial, err)
			}
		})
	}
}

// The new binary crashing at every start is rolled back after
// MaxAttempts starts, and its target is refused; a crash at each point of
// the rollback is finished by the next start.
func TestRollbackAfterCrashingStarts(t *testing.T) {
	for _, tc := range []struct{ goos, point string }{
		{"linux", ""},
		{"linux", "marked-rollback"},
		{"linux", "swapped-back"},
		{"windows", ""},
		{"windows", "marked-rollback"},
		{"windows", "moved-away"},
		{"windows", "swapped-back"},
	} {
		t.Run(tc.goos+"/"+tc.point, func(t *testing.T) {
			f := newFixture(t, tc.goos)
			s := f.swapper("")
			if err := s.Install(t.Context(), f.file, rel, probeOK); !errors.Is(err, ErrRestart) {
				t.Fatal(err)
			}
			for i := range 2 { // MaxAttempts starts, each crashing
				if trial, err := s.Boot("2.0.0"); err != nil || !trial {
					t.Fatalf("start %d: trial %v, %v", i+1, trial, err)
				}
			}
			_, err := f.swapper(tc.point).Boot("2.0.0")
			if tc.point != "" {
				if !errors.Is(err, errCrash) {
					t.Fatalf("Boot: %v, want the simulated crash", err)
				}
				// Restarted by the service manager: whichever binary is
				// in place finishes the rollback.
				version := "2.0.0"
				if f.content(f.exe) == "v1" {
					version = "1.0.0"
				} else if f.content(f.exe) == "(none)" {
					// Windows, between the renames: nothing to start.
					// The operator, or the previous binary, starts it.
					version = "1.0.0"
				}
				_, err = s.Boot(version)
				if version == "1.0.0" {
					if err != nil {
						t.Fatalf("Boot of the old binary finishing the rollback: %v", err)
					}
				} else if !errors.Is(err, ErrRestart) {
					t.Fatalf("Boot of the new binary finishing the rollback: %v, want ErrRestart", err)
				}
			} else if !errors.Is(err, ErrRestart) {
				t.Fatalf("Boot after %d failed starts: %v, want ErrRestart", 2, err)
			}
			if got := f.content(f.exe); got != "v1" {
				t.Errorf("executable %q after the rollback, want v1", got)
			}
			m := f.marker(s)
			if m.Phase != PhaseIdle || !slices.Contains(m.Refused, rel.Target) || m.Last == nil || m.Last.Result != "rolled back" {
				t.Errorf("marker after rollback: %+v", m)
			}
			if trial, err := s.Boot("1.0.0"); err != nil || trial {
				t.Errorf("Boot of the restored binary: trial %v, %v; want a plain start", trial, err)
			}
		})
	}
}

func TestUnhealthyRollsBack(t *testing.T) {
	f := newFixture(t, "linux")
	s := f.swapper("")
	if err := s.Install(t.Context(), f.file, rel, probeOK); !errors.Is(err, ErrRestart) {
		t.Fatal(err)
	}
	if _, err := s.Boot("2.0.0"); err != nil {
		t.Fatal(err)
	}
	d, err := s.Deadline()
	if want := f.clk.Now().Add(time.Minute); err != nil || !d.Equal(want) {
		t.Fatalf("Deadline: %v, %v; want %v", d, err, want)
	}
	if err := s.Unhealthy("no poll round"); !errors.Is(err, ErrRestart) {
		t.Fatalf("Unhealthy: %v, want ErrRestart", err)
	}
	if got := f.content(f.exe); got != "v1" {
		t.Errorf("executable %q, want v1", got)
	}
	if m := f.marker(s); m.Last == nil || m.Last.Reason != "no poll round" {
		t.Errorf("marker %+v: want the reason recorded", m)
	}
}

func TestMarkerUnreadable(t *testing.T) {
	f := newFixture(t, "linux")
	s := f.swapper("")
	if err := os.WriteFile(filepath.Join(f.state, "marker.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Boot("1.0.0"); err == nil {
		t.Error("Boot with a corrupt marker: no error")
	}
	if err := s.Install(t.Context(), f.file, rel, probeOK); err == nil || errors.Is(err, ErrRestart) {
		t.Errorf("Install with a corrupt marker: %v, want an error", err)
	}
}
