package alert

// PrinterVersion is what a printer last reported running, for findings
// computed from the releases the cloud offers (RuleUpdateAvailable).
type PrinterVersion struct {
	// Subject is the printer; Since is when it reported these versions
	// (the time of its identity record).
	Subject
	Model        string
	Firmware     string
	ParameterSet string
}
