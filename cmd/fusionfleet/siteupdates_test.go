package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// demoRun is a demo running in this process.
type demoRun struct {
	out  *lineWriter
	logs *syncWriter
	stop func(t *testing.T) // cancels the demo and checks it stopped cleanly
}

// startDemoRun runs the demo with flags until the test ends (or stop),
// and waits for its login line. Without a simulated past or peers unless
// flags ask for them: most tests look at the present only.
func startDemoRun(t *testing.T, flags ...string) *demoRun {
	t.Helper()
	return startDemoRunIn(t, t.TempDir(), flags...)
}

// startDemoRunIn is startDemoRun on the data directory data.
func startDemoRunIn(t *testing.T, data string, flags ...string) *demoRun {
	t.Helper()
	d := &demoRun{out: &lineWriter{}, logs: &syncWriter{}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		// The shared broker on the MQTT port is for people running the demo,
		// not for tests: -mqtt off unless a test names its own broker.
		args := append([]string{"fusionfleet", "demo", "-data", data, "-log-level", "warn", "-ui-ports", "0", "-history", "0", "-peers", "0", "-mqtt", "off"}, flags...)
		done <- run(ctx, args, func(string) string { return "" }, strings.NewReader(""), d.out, d.logs)
	}()
	stopped := false
	d.stop = func(t *testing.T) {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo after cancellation: %v, want a clean stop", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop within 30s of cancellation")
		}
	}
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(60 * time.Second)
	for d.out.get("login") == "" {
		select {
		case err := <-done:
			t.Fatalf("demo exited early: %v\nlogs:\n%s", err, d.logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no login line after 60s\nlogs:\n%s", d.logs)
		}
	}
	return d
}

// ccPrinter is what the test reads of the Command Center's printer list.
type ccPrinter struct {
	Identity *struct {
		Name         string `json:"name"`
		Model        string `json:"model"`
		Firmware     string `json:"firmware"`
		ParameterSet string `json:"parameter_set"`
	} `json:"identity"`
}

// Issue 7 end to end: a firmware and a parameter set released into the
// cloud's repository reach the printers of the demo through the Command
// Center's mirror once the site approves them; each printer verifies and
// installs them; printers of another model keep theirs; the new versions
// show in the Command Center and in the cloud's dashboard.
func TestDemoUpdatesReachPrinters(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system")
	}
	// Printers install only between jobs: a fast clock keeps the jobs short.
	d := startDemoRun(t, "-printers", "3", "-speed", "3000", "-poll", "250ms")
	repoDir, _, _ := strings.Cut(d.out.get("updates"), " ")
	cc := d.out.get("commandcenter")
	base := d.out.get("cloud")
	if repoDir == "" || cc == "" {
		t.Fatalf("no updates or commandcenter line: %v", d.out.lines)
	}

	dir := t.TempDir()
	fw, params := filepath.Join(dir, "ff4200-4.3.0.bin"), filepath.Join(dir, "std-4200-2.2.json")
	if err := os.WriteFile(fw, []byte(strings.Repeat("firmware image 4.3.0\n", 5000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(params, []byte(`{"schema":"fusionfleet.parameter-set/1","name":"std-4200-2.2","model":"FF-4200","materials":{"PA12":{"layer_thickness_mm":0.08}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	release := func(args ...string) {
		t.Helper()
		var out, errOut syncWriter
		args = append([]string{"fusionfleet", "release", "add-target", "-dir", repoDir}, args...)
		if err := run(t.Context(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut.String())
		}
	}
	release("-kind", "firmware", "-version", "4.3.0", "-models", "FF-4200", "-notes", "faster warm-up", fw)
	release("-kind", "parameters", "-version", "2.2", "-name", "std-4200-2.2", "-models", "FF-4200", params)

	client := &http.Client{Timeout: 10 * time.Second}
	var ups struct {
		Releases []struct {
			Name        string `json:"name"`
			Installable bool   `json:"installable"`
		} `json:"releases"`
	}
	wait.For(t, "the Command Center's mirror does not list both releases", 60*time.Second, func() bool {
		getJSON(t, client, cc+"api/updates", &ups)
		return len(ups.Releases) == 2
	})
	for _, r := range ups.Releases {
		if r.Installable {
			t.Errorf("release %s installable before the site approved it", r.Name)
		}
	}
	firmware := func() map[string]string { // printer name → firmware / parameter set
		var snap struct {
			Printers []ccPrinter `json:"printers"`
		}
		getJSON(t, client, cc+"api/printers", &snap)
		got := map[string]string{}
		for _, p := range snap.Printers {
			if p.Identity != nil {
				got[p.Identity.Name] = p.Identity.Model + " " + p.Identity.Firmware + " " + p.Identity.ParameterSet
			}
		}
		return got
	}
	before := firmware()

	for _, r := range ups.Releases {
		resp, err := client.Post(cc+"updates/"+r.Name+"/approve", "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK { // after the redirect to the page
			t.Fatalf("approve %s: %s", r.Name, resp.Status)
		}
	}
	want := map[string]string{
		"3DP 1": "FF-4200 4.3.0 std-4200-2.2",
		"3DP 2": "FF-4200 4.3.0 std-4200-2.2",
		"3DP 3": "FF-5200 5.2.3 std-5200-3.0", // another model: keeps its own
	}
	var got map[string]string
	ok := wait.Holds(150*time.Second, func() bool {
		got = firmware()
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	if !ok {
		t.Fatalf("printers did not install the approved releases: before %v, now %v, want %v\nlogs:\n%s", before, got, want, d.logs)
	}

	// The cloud hears of it: the printer's page shows the new firmware.
	jar, _ := cookiejar.New(nil)
	dash := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	user, password, _ := strings.Cut(d.out.get("login"), " ")
	login(t, dash, base, user, password, http.StatusOK)
	var cards []cardView
	getJSON(t, dash, base+"api/printers", &cards)
	var id string
	for _, c := range cards {
		if c.Name == "3DP 1" {
			id = c.ID
		}
	}
	if id == "" {
		t.Fatalf("no card for 3DP 1 in %+v", cards)
	}
	wait.For(t, "the cloud's printer page does not show firmware 4.3.0 and parameter set std-4200-2.2", 60*time.Second, func() bool {
		page := getBody(t, dash, base+"printers/"+id)
		return strings.Contains(page, "4.3.0") && strings.Contains(page, "std-4200-2.2")
	})
	d.stop(t)
}
