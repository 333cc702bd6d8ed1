package printer

import (
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
)

// SelfTest checks every installed component as the front panel's self-test
// does: its visible condition against the point where the operator is told
// to replace it (a warning), and a failed or warned component as failed.
// Only what the device API shows anyway is used: the hidden life stays
// hidden.
func (p *Printer) SelfTest() deviceapi.SelfTest {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advance(p.clk.Now())
	st := deviceapi.SelfTest{Time: p.now, Passed: true}
	for _, c := range p.comps {
		if !c.removed.IsZero() {
			continue
		}
		w := p.tab.Wear[c.kind]
		cond := round(p.condition(c), 1)
		ch := deviceapi.SelfTestCheck{Subsystem: w.Component, Component: fmt.Sprintf("%s-%d", w.Component, c.slot+1), Result: deviceapi.SelfTestPass, Value: cond}
		deviation := c.kind == wkCooling || c.kind == wkCarriage // measured as a deviation: higher is worse
		switch {
		case c.failed:
			ch.Result, ch.Detail = deviceapi.SelfTestFail, "component failed: "+c.lastErr
		case c.warned:
			ch.Result, ch.Detail = deviceapi.SelfTestFail, "component warned of failure: "+c.lastErr
		case !deviation && w.PreventAt > 0 && cond <= w.PreventAt:
			ch.Result, ch.Detail = deviceapi.SelfTestWarn, fmt.Sprintf("condition %.1f %% at or below %.0f %%: replace soon", cond, w.PreventAt)
		}
		if ch.Result == deviceapi.SelfTestFail {
			st.Passed = false
		}
		st.Checks = append(st.Checks, ch)
	}
	return st
}
