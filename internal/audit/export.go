package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Reader reads an organisation's audit log: the entries a filter selects,
// streamed newest first, and the verification of the whole chain. The
// dashboard and the REST API both use it.
type Reader interface {
	AuditEntries(ctx context.Context, org fleet.OrgID, f Filter, fn func(Entry) error) error
	VerifyAudit(ctx context.Context, org fleet.OrgID, anchors []Head) (Head, []Problem, error)
}

// EntryJSON is an entry as the API and the JSON lines export show it.
type EntryJSON struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Action   string    `json:"action"`
	ActorOrg string    `json:"actor_org"`
	Actor    string    `json:"actor"`
	Name     string    `json:"name"`
	Target   string    `json:"target"`
	Grant    string    `json:"grant"`
	Detail   string    `json:"detail"`
	Prev     string    `json:"prev"`
	Hash     string    `json:"hash"`
}

// JSON is x as the API shows it.
func (x Entry) JSON() EntryJSON {
	return EntryJSON{Seq: x.Seq, Time: x.Time.UTC(), Action: x.Action, ActorOrg: string(x.ActorOrg), Actor: string(x.Actor),
		Name: x.Name, Target: x.Target, Grant: x.Grant, Detail: x.Detail, Prev: x.Prev, Hash: x.Hash}
}

// Format is an export's file format.
type Format string

// The export formats.
const (
	JSONLines Format = "jsonl" // one JSON object (EntryJSON) a line
	CSV       Format = "csv"   // a header, then one row an entry
)

// ParseFormat parses "jsonl" or "csv"; empty is JSON lines.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", JSONLines:
		return JSONLines, nil
	case CSV:
		return CSV, nil
	}
	return "", fmt.Errorf("unknown export format %q, want jsonl or csv", s)
}

// ContentType is the media type of the format.
func (f Format) ContentType() string {
	if f == CSV {
		return "text/csv; charset=utf-8"
	}
	return "application/jsonl; charset=utf-8"
}

// Exporter writes entries one by one in a format, never holding more
// than one: exports are streamed.
type Exporter struct {
	format Format
	csv    *csv.Writer
	json   *json.Encoder
}

var csvHeader = []string{"seq", "time", "action", "actor_org", "actor", "name", "target", "grant", "detail", "prev", "hash"}

// NewExporter starts an export to w.
func NewExporter(w io.Writer, f Format) (*Exporter, error) {
	e := &Exporter{format: f}
	if f == CSV {
		e.csv = csv.NewWriter(w)
		return e, e.csv.Write(csvHeader)
	}
	e.json = json.NewEncoder(w)
	return e, nil
}

// Write writes one entry.
func (e *Exporter) Write(x Entry) error {
	if e.csv == nil {
		return e.json.Encode(x.JSON())
	}
	// A spreadsheet runs a cell that starts with = + - @ as a formula:
	// typed names and details are another party's text.
	return e.csv.Write([]string{strconv.FormatInt(x.Seq, 10), x.Time.UTC().Format(time.RFC3339Nano), safeCell(x.Action),
		safeCell(string(x.ActorOrg)), safeCell(string(x.Actor)), safeCell(x.Name), safeCell(x.Target), safeCell(x.Grant),
		safeCell(x.Detail), x.Prev, x.Hash})
}

// Flush ends the export.
func (e *Exporter) Flush() error {
	if e.csv != nil {
		e.csv.Flush()
		return e.csv.Error()
	}
	return nil
}

func safeCell(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
