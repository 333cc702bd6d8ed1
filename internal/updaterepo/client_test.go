package updaterepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/google/go-cmp/cmp"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func paramSet(version, name string) update.Release {
	return update.Release{Kind: update.KindParameters, Version: version, Name: name, Models: []string{model4200}, Notes: "PA12 refresh rate tuned"}
}

func TestAgentRunInstallsFirmwareAndParameters(t *testing.T) {
	f := newFixture(t)
	fw := f.release(firmware("4.3.0", model4200, model5200))
	f.release(paramSet("2.2", "std-4200-2.2"))
	f.release(firmware("4.4.0", model5200)) // not for this printer
	c := f.client(model4200)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	a := update.NewAgent(c, f.dev, update.AgentOptions{StartCheck: func(ctx context.Context, in update.Installed) error {
		if in.Kind == update.KindParameters {
			cancel() // one round is enough
		}
		return nil
	}})
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// Each installation holds the printer from before the download to
	// after the start.
	want := "begin; firmware 4.3.0; end; begin; parameters std-4200-2.2; end"
	if got := f.dev.Calls(); got != want {
		t.Errorf("device calls:\ngot  %s\nwant %s", got, want)
	}

	slots, err := c.Slots(update.KindFirmware)
	if err != nil {
		t.Fatal(err)
	}
	wantSlots := update.Slots{Active: "b", A: update.Slot{Version: "4.2.9", Name: "4.2.9"},
		B: update.Slot{Version: "4.3.0", Name: "4.3.0", Target: fw.Name, File: fw.Name}}
	if d := cmp.Diff(wantSlots, slots); d != "" {
		t.Errorf("firmware slots (-want +got):\n%s", d)
	}
	img, err := os.ReadFile(filepath.Join(f.state, "firmware", "b", fw.Name))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256Hex(img); got != fw.SHA256 {
		t.Errorf("installed image sha256 %s, want %s", got, fw.SHA256)
	}

	// Nothing new: a second round changes nothing.
	if errs := a.Check(t.Context()); len(errs) > 0 {
		t.Errorf("second round: %v", errs)
	}
	if got := f.dev.Calls(); got != want {
		t.Errorf("second round told the device more: %s", got)
	}
	// A restart keeps what was installed.
	if got := installedVersion(t, f.client(model4200), update.KindParameters); got != "2.2" {
		t.Errorf("after restart parameters %s, want 2.2", got)
	}
}

func TestUpdateRespectsMinVersionAndRefusesDowngrade(t *testing.T) {
	f := newFixture(t)
	old := f.release(firmware("4.3.0", model4200))
	five := firmware("5.0.0", model4200)
	five.MinVersion = "4.3.0"
	fiveInfo := f.release(five)
	c := f.client(model4200)
	noop := func(context.Context, update.Installed) error { return nil }

	if _, err := c.Apply(t.Context(), update.KindFirmware, fiveInfo.Name, noop); !errors.Is(err, update.ErrMinVersion) {
		t.Fatalf("5.0.0 over 4.2.9: got %v, want update.ErrMinVersion", err)
	}
	if _, err := c.Apply(t.Context(), update.KindParameters, fiveInfo.Name, noop); !errors.Is(err, update.ErrWrongKind) {
		t.Fatalf("firmware as parameters: got %v, want update.ErrWrongKind", err)
	}
	var got []string
	for range 3 {
		in, err := c.Update(t.Context(), update.KindFirmware, noop)
		if errors.Is(err, update.ErrNoUpdate) {
			got = append(got, "none")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, in.Previous.Version+"->"+in.Version)
	}
	if d := cmp.Diff([]string{"4.2.9->4.3.0", "4.3.0->5.0.0", "none"}, got); d != "" {
		t.Errorf("update path (-want +got):\n%s", d)
	}
	if _, err := c.Apply(t.Context(), update.KindFirmware, old.Name, noop); !errors.Is(err, update.ErrDowngrade) {
		t.Errorf("4.3.0 over 5.0.0: got %v, want update.ErrDowngrade", err)
	}
	if got := installedVersion(t, c, update.KindFirmware); got != "5.0.0" {
		t.Errorf("installed %s, want 5.0.0", got)
	}
}

func TestFailedStartRollsBackToPreviousSlot(t *testing.T) {
	f := newFixture(t)
	fw := f.release(firmware("4.3.0", model4200))
	c := f.client(model4200)
	a := update.NewAgent(c, f.dev, update.AgentOptions{Kinds: []update.Kind{update.KindFirmware}, StartCheck: func(context.Context, update.Installed) error {
		return errors.New("heater self-test failed")
	}})
	errs := a.Check(t.Context())
	if len(errs) != 1 || !errors.Is(errs[0], update.ErrStartFailed) {
		t.Fatalf("got %v, want one update.ErrStartFailed", errs)
	}
	if got, want := f.dev.Calls(), "begin; firmware 4.3.0; firmware 4.2.9; end"; got != want {
		t.Errorf("device calls %q, want %q", got, want)
	}
	slots, err := c.Slots(update.KindFirmware)
	if err != nil {
		t.Fatal(err)
	}
	if slots.Active != "a" || slots.Current().Version != "4.2.9" || slots.Trial {
		t.Errorf("slots after failed start: %+v", slots)
	}
	if d := cmp.Diff([]string{fw.Name}, slots.Failed); d != "" {
		t.Errorf("failed targets (-want +got):\n%s", d)
	}
	// The failed release is not tried again.
	if errs := a.Check(t.Context()); len(errs) > 0 {
		t.Errorf("second round: %v", errs)
	}
	if got, want := f.dev.Calls(), "begin; firmware 4.3.0; firmware 4.2.9; end"; got != want {
		t.Errorf("second round retried the failed release: %q", got)
	}
}

func TestInterruptedStartRollsBackOnRestart(t *testing.T) {
	f := newFixture(t)
	f.release(firmware("4.3.0", model4200))
	c := f.client(model4200)
	slotsFile := filepath.Join(f.state, "firmware", "slots.json")
	var during []byte
	_, err := c.Update(t.Context(), update.KindFirmware, func(context.Context, update.Installed) error {
		var err error
		during, err = os.ReadFile(slotsFile) // what a power cut now would leave
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(slotsFile, during, 0o600); err != nil {
		t.Fatal(err)
	}
	c = f.client(model4200)
	slots, err := c.Slots(update.KindFirmware)
	if err != nil {
		t.Fatal(err)
	}
	if slots.Current().Version != "4.2.9" || slots.Trial || len(slots.Failed) != 1 {
		t.Errorf("after restart mid-trial: %+v, want rolled back to 4.2.9", slots)
	}
}

func TestRootRotationAccepted(t *testing.T) {
	f := newFixture(t)
	c := f.client(model4200)
	if _, err := c.Check(t.Context(), update.KindFirmware); !errors.Is(err, update.ErrNoUpdate) {
		t.Fatalf("before rotation: %v", err)
	}
	if err := f.repo.RotateRoot(3, 2); err != nil {
		t.Fatal(err)
	}
	f.release(firmware("4.3.0", model4200))
	if _, err := c.Update(t.Context(), update.KindFirmware, func(context.Context, update.Installed) error { return nil }); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(f.state, "metadata", "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := metadata.Root().FromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if root.Signed.Version != 2 {
		t.Errorf("trusted root version %d, want 2", root.Signed.Version)
	}
	// The old root keys no longer count: a root signed by them alone is
	// refused after the rotation, even across a restart.
	if err := f.repo.rotateRoot(3, 2, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client(model4200).Check(t.Context(), update.KindFirmware); !errors.Is(err, update.ErrRootRotation) {
		t.Errorf("second, wrong rotation: got %v, want update.ErrRootRotation", err)
	}
}

func TestResignEndsFreeze(t *testing.T) {
	f := newFixture(t)
	f.release(firmware("4.3.0", model4200))
	c := f.client(model4200)
	f.clk.Advance(36 * time.Hour)
	if _, err := c.Check(t.Context(), update.KindFirmware); !errors.Is(err, update.ErrExpired) {
		t.Fatalf("stale timestamp: got %v, want update.ErrExpired", err)
	}
	if err := f.repo.Resign(); err != nil { // the cloud's schedule catches up
		t.Fatal(err)
	}
	if _, err := c.Check(t.Context(), update.KindFirmware); err != nil {
		t.Errorf("after resign: %v", err)
	}
}

func TestStagedRollout(t *testing.T) {
	f := newFixture(t)
	zero := 0
	rel := firmware("4.3.0", model4200)
	rel.Rollout = &update.Rollout{Percent: &zero, Sites: []string{"plant-b"}}
	ti := f.release(rel)
	noop := func(context.Context, update.Installed) error { return nil }

	c := f.client(model4200) // at plant-a
	if _, err := c.Update(t.Context(), update.KindFirmware, noop); !errors.Is(err, update.ErrNoUpdate) {
		t.Errorf("plant-a update: got %v, want update.ErrNoUpdate", err)
	}
	if _, err := c.Apply(t.Context(), update.KindFirmware, ti.Name, noop); !errors.Is(err, update.ErrNotInRollout) {
		t.Errorf("plant-a apply: got %v, want update.ErrNotInRollout", err)
	}
	b, err := update.NewClient(t.TempDir(), f.root, f.mirror.srv.URL, model4200, update.Options{
		Clock: f.clk, HTTPClient: f.mirror.srv.Client(), Site: "plant-b", Factory: map[update.Kind]update.Slot{update.KindFirmware: {Version: "4.2.9"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update(t.Context(), update.KindFirmware, noop); err != nil {
		t.Errorf("plant-b: %v", err)
	}
}

func TestRolloutPercentage(t *testing.T) {
	for _, pct := range []int{0, 30, 100} {
		rel := update.Release{Rollout: &update.Rollout{Percent: &pct}}
		n := 0
		for i := range 1000 {
			if rel.Reaches("firmware-4.3.0-image.bin", fmt.Sprintf("printer-%d", i), "") {
				n++
			}
		}
		lo, hi := pct*10-80, pct*10+80
		if n < lo || n > hi {
			t.Errorf("percent %d reached %d of 1000 printers, want %d to %d", pct, n, max(lo, 0), min(hi, 1000))
		}
	}
}

// Issue 13: a printer running a job installs nothing; the release waits,
// and the first round that finds the printer idle installs it.
func TestAgentWaitsForIdlePrinter(t *testing.T) {
	f := newFixture(t)
	f.release(firmware("4.3.0", model4200))
	c := f.client(model4200)
	f.dev.busy = errors.New("printing job 7")
	a := update.NewAgent(c, f.dev, update.AgentOptions{Kinds: []update.Kind{update.KindFirmware}})
	if errs := a.Check(t.Context()); len(errs) > 0 {
		t.Fatalf("round while busy: %v", errs)
	}
	if got := f.dev.Calls(); got != "" {
		t.Fatalf("busy printer was told %q", got)
	}
	if got := installedVersion(t, c, update.KindFirmware); got != "4.2.9" {
		t.Fatalf("busy printer installed %s", got)
	}
	f.dev.mu.Lock()
	f.dev.busy = nil
	f.dev.mu.Unlock()
	if errs := a.Check(t.Context()); len(errs) > 0 {
		t.Fatalf("round while idle: %v", errs)
	}
	if got, want := f.dev.Calls(), "begin; firmware 4.3.0; end"; got != want {
		t.Errorf("idle printer: calls %q, want %q", got, want)
	}
}
