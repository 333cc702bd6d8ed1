package site

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// With KeepAwake the node takes a sleep inhibitor, and the local UI's
// self-test says whether it holds the host awake or why it cannot (in a
// container without logind: it cannot, and the check warns).
func TestKeepAwakeInSelfTest(t *testing.T) {
	if _, err := exec.LookPath("systemd-inhibit"); err != nil {
		t.Skip("SKIPPED: no systemd-inhibit")
	}
	ctx := t.Context()
	cloud, _ := startCloud(t, t.TempDir(), "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := New(ctx, Options{DataDir: t.TempDir(), CloudURL: cloud.URL(), RootCAs: cloud.RootCAs(), EnrolToken: token,
		KeepAwake: true, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	wait.Go(t, cc.Run)
	<-cc.awake.Settled()
	held := cc.awake.Status() == nil

	resp, err := http.Get(strings.TrimSuffix(cc.URL(), "/") + "/api/selftest")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep commandcenter.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("self-test answer (%s): %v", resp.Status, err)
	}
	var sleep *commandcenter.Check
	for i := range rep.Checks {
		if rep.Checks[i].Name == "host sleep" {
			sleep = &rep.Checks[i]
		}
	}
	if sleep == nil {
		t.Fatalf("no host sleep check in %+v", rep.Checks)
	}
	switch {
	case held && (sleep.Status != commandcenter.CheckOK || !strings.Contains(sleep.Message, "keeps this computer awake")):
		t.Errorf("inhibitor held, check %s %q", sleep.Status, sleep.Message)
	case !held && !strings.Contains(sleep.Message, "cannot keep this computer awake ("+cc.awake.Status().Error()):
		t.Errorf("inhibitor not held (%v), check %s %q", cc.awake.Status(), sleep.Status, sleep.Message)
	}
	t.Logf("host sleep: %s: %s", sleep.Status, sleep.Message)
}
