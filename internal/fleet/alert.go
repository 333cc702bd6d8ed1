package fleet

import (
	"errors"
	"fmt"
	"time"
)

// AlertID identifies one alert (an incident): random, never reused.
type AlertID string

// RuleKey names an alert rule: a built-in one ("offline", "printer-error",
// "printhead-replace", …) or a custom one ("custom-<id>").
type RuleKey string

// Alert is one incident found by an alert rule: a condition of one printer
// that holds from Opened until Resolved. An alert is never duplicated: while
// its condition holds, a rule updates the same alert, and Revision counts
// the changes people should hear about (opening, a change of severity or
// detail, resolution). Notifications are keyed by (ID, Revision), so one
// incident gives one notification until it changes.
type Alert struct {
	ID          AlertID   `json:"id"`
	OrgID       OrgID     `json:"-"`
	SiteID      SiteID    `json:"site_id"`
	PrinterID   PrinterID `json:"printer_id"`
	PrinterName string    `json:"printer_name"`
	Rule        RuleKey   `json:"rule"`
	Severity    Severity  `json:"severity"`
	// Title and Detail are in English, for people; they carry no private
	// names (jobs, parts, users) because none reach the cloud.
	Title    string    `json:"title"`
	Detail   string    `json:"detail"`
	Opened   time.Time `json:"opened"`
	Updated  time.Time `json:"updated"`
	Resolved time.Time `json:"resolved,omitzero"` // zero while active
	Revision int       `json:"revision"`
	// AckedBy is the user who acknowledged the alert ("" until then).
	AckedBy  UserID    `json:"acked_by,omitempty"`
	AckedAt  time.Time `json:"acked_at,omitzero"`
	Assignee UserID    `json:"assignee,omitempty"`
}

// Active reports whether the alert's condition still holds.
func (a Alert) Active() bool { return a.Resolved.IsZero() }

// Validate reports whether the alert is well-formed.
func (a Alert) Validate() error {
	var errs []error
	if a.ID == "" || a.OrgID == "" || a.PrinterID == "" || a.Rule == "" {
		errs = append(errs, errors.New("alert: empty id, organisation, printer or rule"))
	}
	if a.Severity == SeverityUnknown || int(a.Severity) >= len(severityNames) {
		errs = append(errs, fmt.Errorf("alert %s: invalid severity %d", a.ID, a.Severity))
	}
	if a.Opened.IsZero() || a.Updated.Before(a.Opened) || (!a.Resolved.IsZero() && a.Resolved.Before(a.Opened)) {
		errs = append(errs, fmt.Errorf("alert %s: inconsistent times", a.ID))
	}
	if a.Revision < 1 {
		errs = append(errs, fmt.Errorf("alert %s: revision %d < 1", a.ID, a.Revision))
	}
	return errors.Join(errs...)
}
