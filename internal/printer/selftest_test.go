package printer

import (
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
)

// TestSelfTestChecksEveryComponent: a new printer passes a check of each
// installed component; one whose component failed does not.
func TestSelfTestChecksEveryComponent(t *testing.T) {
	p, _ := newTestPrinter(t, 7, Options{})
	st := p.SelfTest()
	if !st.Passed || len(st.Checks) != len(p.comps) || st.Time.IsZero() {
		t.Fatalf("new printer: passed %v, %d checks for %d components", st.Passed, len(st.Checks), len(p.comps))
	}
	for _, c := range st.Checks {
		if c.Result != deviceapi.SelfTestPass || c.Subsystem == "" || c.Component == "" {
			t.Errorf("check %+v", c)
		}
	}
	p.mu.Lock()
	p.comps[0].failed, p.comps[0].lastErr = true, "nozzle bank open"
	p.mu.Unlock()
	st = p.SelfTest()
	if st.Passed || st.Checks[0].Result != deviceapi.SelfTestFail {
		t.Errorf("failed component: passed %v, first check %+v", st.Passed, st.Checks[0])
	}
}
