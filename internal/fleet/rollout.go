package fleet

import "time"

// VersionQuery asks how the printers of one model fare on one firmware
// version or parameter set compared with the same model's printers on
// any other, across every organisation: the staged-rollout halt's input.
type VersionQuery struct {
	Model string
	// Version is a firmware version, or with ParameterSet a
	// parameter-set name, as the printers' identities report them.
	Version      string
	ParameterSet bool
	// Failures are alerts of at least MinSeverity (zero: SeverityError)
	// opened at or after Since.
	Since       time.Time
	MinSeverity Severity
}

// Severity returns the lowest severity that counts as a failure.
func (q VersionQuery) Severity() Severity {
	if q.MinSeverity == SeverityUnknown {
		return SeverityError
	}
	return q.MinSeverity
}

// VersionFailures counts printers and those of them with a failure alert,
// on the queried version and on other versions of the same model.
// Printers reporting no version at all are in neither group.
type VersionFailures struct {
	Printers, Failing           int
	OtherPrinters, OtherFailing int
}
