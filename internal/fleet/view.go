package fleet

import "time"

// Site is a customer location with one gateway (Command Center).
type Site struct {
	ID    SiteID `json:"id"`
	OrgID OrgID  `json:"org_id"`
	Name  string `json:"name"`
}

// PrinterView is the cloud's read model of one printer: its identity and
// latest status as the dashboard shows them (R-FEAT-1). State is
// StateUnknown and StatusTime is zero while no status has arrived.
type PrinterView struct {
	ID          PrinterID `json:"id"`
	Name        string    `json:"name"`
	Model       string    `json:"model"`
	SiteID      SiteID    `json:"site_id"`
	State       State     `json:"state,omitempty"`
	Activity    string    `json:"activity"`
	JobID       string    `json:"job_id,omitempty"`
	Progress    float64   `json:"progress"`
	ETCSeconds  int64     `json:"etc_seconds"`
	PendingJobs int       `json:"pending_jobs"`
	StatusTime  time.Time `json:"status_time,omitzero"`
	// LastSeen is when a gateway last reported anything about the printer.
	LastSeen time.Time `json:"last_seen,omitzero"`
}
