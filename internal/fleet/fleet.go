package fleet

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// PrinterID identifies a printer: the printer's UUID (R-DATA-1), as its
// gateway reports it. A printer is identified within its organisation: the
// cloud stores it under a key of its own, which is the printer's ID unless
// another organisation's printer uses that ID (see PrinterPlace).
type PrinterID string

// PrinterPlace is where the cloud keeps an organisation's printer: the key
// its data is stored and read under, and the site it belongs to.
type PrinterPlace struct {
	Key    PrinterID
	SiteID SiteID // "" while nothing of the printer is stored
}

// State is what a printer is doing, as shown on the dashboard (R-DATA-2, R-FEAT-1).
type State uint8

// The printer states. StateUnknown is the zero value and never valid on the wire.
const (
	StateUnknown State = iota
	StateIdle
	StatePrinting
	StateCooling
	StateError
)

var stateNames = [...]string{"unknown", "idle", "printing", "cooling", "error"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText encodes the state by name.
func (s State) MarshalText() ([]byte, error) {
	if s == StateUnknown || int(s) >= len(stateNames) {
		return nil, fmt.Errorf("marshal state: invalid state %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if i > 0 && n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown printer state %q", b)
}

// Severity ranks events and alerts (R-DATA-3).
type Severity uint8

// The severities, in rising order.
const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityWarning
	SeverityError
	SeverityCritical
)

var severityNames = [...]string{"unknown", "info", "warning", "error", "critical"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", uint8(s))
}

// MarshalText encodes the severity by name.
func (s Severity) MarshalText() ([]byte, error) {
	if s == SeverityUnknown || int(s) >= len(severityNames) {
		return nil, fmt.Errorf("marshal severity: invalid severity %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if i > 0 && n == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}

// Identity is a printer's identification (R-DATA-1). Everything here may
// leave the site.
type Identity struct {
	PrinterID    PrinterID `json:"printer_id"`
	Name         string    `json:"name"` // the printer's own name, e.g. "3DP 1" (not a job or user name)
	Model        string    `json:"model"`
	ModelNumber  string    `json:"model_number"`
	SerialNumber string    `json:"serial_number"`
	Firmware     string    `json:"firmware"`
	// ParameterSet is the print-parameter set in effect for new jobs.
	ParameterSet string    `json:"parameter_set"`
	Size         string    `json:"size"` // build volume, e.g. "380x284x380 mm"
	DiskBytes    int64     `json:"disk_bytes"`
	MemoryBytes  int64     `json:"memory_bytes"`
	Date         time.Time `json:"date"`
	UptimeSec    int64     `json:"uptime_seconds"`
}

// Validate reports whether the identity is complete enough to store.
func (id Identity) Validate() error {
	var errs []error
	if err := id.PrinterID.Validate(); err != nil {
		errs = append(errs, err)
	}
	if id.Model == "" {
		errs = append(errs, errors.New("identity: empty model"))
	}
	if id.SerialNumber == "" {
		errs = append(errs, errors.New("identity: empty serial number"))
	}
	return errors.Join(errs...)
}

// Validate reports whether the ID is a plausible printer UUID.
func (p PrinterID) Validate() error {
	if len(p) < 8 || len(p) > 64 {
		return fmt.Errorf("printer id %q: want 8 to 64 characters", p)
	}
	if strings.IndexFunc(string(p), func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) >= 0 {
		return fmt.Errorf("printer id %q: only letters, digits and '-' allowed", p)
	}
	return nil
}

// Status is a printer's heartbeat (R-DATA-2) as it may leave the site: the
// job is named by its random ID only.
type Status struct {
	PrinterID PrinterID `json:"printer_id"`
	State     State     `json:"state"`
	// Activity is the printer's current activity in words, e.g. "printing layer 812 of 4750".
	Activity string `json:"activity"`
	// JobID is the random ID of the current job (R-DATA-4), empty when idle.
	JobID string `json:"job_id,omitempty"`
	// Progress of the current job, 0..1.
	Progress float64 `json:"progress"`
	// ETCSeconds is the estimated time to completion of the current phase
	// (printing or cooling), in seconds; 0 when idle.
	ETCSeconds  int64     `json:"etc_seconds"`
	PendingJobs int       `json:"pending_jobs"`
	Time        time.Time `json:"time"`
}

// Validate reports whether the status is well-formed.
func (s Status) Validate() error {
	var errs []error
	if err := s.PrinterID.Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.State == StateUnknown || int(s.State) >= len(stateNames) {
		errs = append(errs, fmt.Errorf("status: invalid state %d", s.State))
	}
	if s.Progress < 0 || s.Progress > 1 {
		errs = append(errs, fmt.Errorf("status: progress %v outside 0..1", s.Progress))
	}
	if s.ETCSeconds < 0 || s.PendingJobs < 0 {
		errs = append(errs, errors.New("status: negative time to completion or pending jobs"))
	}
	if s.Time.IsZero() {
		errs = append(errs, errors.New("status: zero time"))
	}
	return errors.Join(errs...)
}

// Event is an event or alert raised by a printer (R-DATA-3).
type Event struct {
	// Seq is the printer's own sequence number of the event, increasing
	// within one printer instance.
	Seq         uint64    `json:"seq"`
	Code        string    `json:"code"`
	Description string    `json:"description"`
	Severity    Severity  `json:"severity"`
	Time        time.Time `json:"time"`
	Firmware    string    `json:"firmware"`
	Subsystem   string    `json:"subsystem"`
	Details     string    `json:"details"` // debugging details
}

// Validate reports whether the event is well-formed.
func (e Event) Validate() error {
	var errs []error
	if e.Code == "" {
		errs = append(errs, errors.New("event: empty code"))
	}
	if e.Severity == SeverityUnknown || int(e.Severity) >= len(severityNames) {
		errs = append(errs, fmt.Errorf("event %s: invalid severity %d", e.Code, e.Severity))
	}
	if e.Time.IsZero() {
		errs = append(errs, fmt.Errorf("event %s: zero time", e.Code))
	}
	return errors.Join(errs...)
}
