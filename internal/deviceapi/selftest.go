package deviceapi

import (
	"fmt"
	"time"
)

// SelfTest is GET /v1/selftest: the printer checks its subsystems when
// asked, as a service engineer would from the front panel, and reports
// each check (R-FEAT-7). It carries no customer information.
type SelfTest struct {
	Time   time.Time       `json:"time"`
	Passed bool            `json:"passed"` // no check failed
	Checks []SelfTestCheck `json:"checks"`
}

// SelfTestCheck is one check of a self-test.
type SelfTestCheck struct {
	Subsystem string  `json:"subsystem"` // "printhead", "lamp", "filter", "cooling", "carriage", …
	Component string  `json:"component"` // the slot checked, e.g. "printhead-2"
	Result    string  `json:"result"`    // SelfTestPass, SelfTestWarn or SelfTestFail
	Value     float64 `json:"value"`     // the measured condition
	Detail    string  `json:"detail,omitempty"`
}

// The results of a check.
const (
	SelfTestPass = "pass"
	SelfTestWarn = "warn"
	SelfTestFail = "fail"
)

// maxSelfTestChecks bounds the checks of one self-test a client accepts.
const maxSelfTestChecks = 256

// validateSelfTest checks a self-test as a printer sent it.
func validateSelfTest(s SelfTest) error {
	if s.Time.IsZero() {
		return fmt.Errorf("self-test without time")
	}
	if len(s.Checks) > maxSelfTestChecks {
		return fmt.Errorf("self-test of %d checks, at most %d", len(s.Checks), maxSelfTestChecks)
	}
	failed := false
	for i, c := range s.Checks {
		switch c.Result {
		case SelfTestPass, SelfTestWarn:
		case SelfTestFail:
			failed = true
		default:
			return fmt.Errorf("check %d: result %q, want pass, warn or fail", i, c.Result)
		}
		if len(c.Subsystem) > 64 || len(c.Component) > 64 || len(c.Detail) > 500 {
			return fmt.Errorf("check %d: field too long", i)
		}
	}
	if s.Passed == failed {
		return fmt.Errorf("self-test says passed %v, its checks disagree", s.Passed)
	}
	return nil
}

func decodeSelfTest(b []byte) (SelfTest, error) {
	var v SelfTest
	if err := decodeStrict(b, &v); err != nil {
		return SelfTest{}, err
	}
	return v, validateSelfTest(v)
}
