package commandcenter

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSelfTestChecksDescribeTheReport runs self-tests that go wrong
// everywhere and checks that SelfTestChecks names exactly the checks of
// their reports, in their order, and that every message that warns or
// fails quotes advice of its check's table entry (or, not checked, says
// so as an entry does).
func TestSelfTestChecksDescribeTheReport(t *testing.T) {
	down := closedAddr(t)
	static := func(context.Context, string) (string, error) { return "static", nil }
	bad := SelfTestConfig{
		CloudURL:   "",
		Printers:   []SelfTestPrinter{{Name: "3DP-1", Address: down, Pin: "AA"}},
		LocalUI:    down,
		SleepState: static,
		Uplink:     &UplinkState{},
		Timeout:    2 * time.Second,
	}
	none := bad
	none.Printers = nil
	docs := map[string]CheckDoc{}
	var want []string
	for _, d := range SelfTestChecks() {
		docs[d.Name] = d
		want = append(want, d.Name)
		if d.Checks == "" || len(d.Problems) == 0 {
			t.Errorf("check %q: no description or no problems", d.Name)
		}
	}
	var got []string
	for _, r := range []Report{SelfTest(t.Context(), bad), SelfTest(t.Context(), none)} {
		for _, c := range r.Checks {
			name := c.Name
			if strings.HasPrefix(name, checkPrinterAt) {
				name = checkPrinterAt
			}
			if !slices.Contains(got, name) {
				got = append(got, name)
			}
			d, ok := docs[name]
			if !ok || c.Status == CheckOK {
				continue
			}
			if !slices.ContainsFunc(d.Problems, func(p CheckProblem) bool {
				before, _, _ := strings.Cut(p.Advice, "%s")
				notChecked := strings.HasPrefix(p.Says, "not checked") && strings.HasPrefix(c.Message, "not checked")
				return p.Status == c.Status && (notChecked || strings.Contains(c.Message, before))
			}) {
				t.Errorf("%s %s: %q quotes no advice of its table entry", c.Name, c.Status, c.Message)
			}
		}
	}
	// The reports list the proxy after the cloud when the URL is invalid,
	// and "printers" after the printer checks; the table has one order.
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SelfTestChecks names (-table +reports):\n%s", diff)
	}
}
