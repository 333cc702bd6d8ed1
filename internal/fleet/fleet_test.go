package fleet

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStateText(t *testing.T) {
	for _, s := range []State{StateIdle, StatePrinting, StateCooling, StateError} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal %v: %v", s, err)
		}
		var got State
		if err := json.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("round trip of %v: got %v, %v", s, got, err)
		}
	}
	if _, err := json.Marshal(StateUnknown); err == nil {
		t.Error("marshal of StateUnknown: want error")
	}
	var s State
	if err := json.Unmarshal([]byte(`"unknown"`), &s); err == nil {
		t.Error(`unmarshal of "unknown": want error`)
	}
	var sev Severity
	if err := json.Unmarshal([]byte(`"critical"`), &sev); err != nil || sev != SeverityCritical {
		t.Errorf("severity: got %v, %v", sev, err)
	}
	if r, err := ParseRole("operator"); err != nil || r != RoleOperator {
		t.Errorf("ParseRole: got %v, %v", r, err)
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole(root): want error")
	}
}

func TestRecordValidate(t *testing.T) {
	at := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	const p = PrinterID("printer-0001")
	status := &Status{PrinterID: p, State: StateIdle, Time: at}
	y9999 := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	y2261 := time.Date(2261, 12, 31, 23, 59, 59, 0, time.UTC)
	tests := []struct {
		name string
		rec  Record
		want string // "" for valid
	}{
		{"status", Record{Seq: 1, Kind: KindStatus, PrinterID: p, Time: at, Status: status}, ""},
		{"event", Record{Seq: 2, Kind: KindEvent, PrinterID: p, Time: at,
			Event: &Event{Seq: 9, Code: "JOB_STARTED", Severity: SeverityInfo, Time: at}}, ""},
		{"gap", Record{Seq: 3, Kind: KindGap, PrinterID: p, Time: at, Gap: &Gap{Feed: "events", Reason: "restart"}}, ""},
		{"identity", Record{Seq: 4, Kind: KindIdentity, PrinterID: p, Time: at,
			Identity: &Identity{PrinterID: p, Model: "FF-4200", SerialNumber: "S1"}}, ""},
		{"zero seq", Record{Kind: KindStatus, PrinterID: p, Time: at, Status: status}, "seq must be positive"},
		{"bad printer id", Record{Seq: 1, Kind: KindStatus, PrinterID: "x y", Time: at, Status: status}, "want 8 to 64"},
		{"zero time", Record{Seq: 1, Kind: KindStatus, PrinterID: p, Status: status}, "zero time"},
		{"two payloads", Record{Seq: 1, Kind: KindStatus, PrinterID: p, Time: at, Status: status, Gap: &Gap{Feed: "x"}}, "exactly one payload"},
		{"kind mismatch", Record{Seq: 1, Kind: KindEvent, PrinterID: p, Time: at, Status: status}, "kind event without event"},
		{"unknown kind", Record{Seq: 1, Kind: "job_name", PrinterID: p, Time: at, Status: status}, "unknown kind"},
		{"status of another printer", Record{Seq: 1, Kind: KindStatus, PrinterID: "printer-0002", Time: at, Status: status},
			"differs from record's"},
		{"bad progress", Record{Seq: 1, Kind: KindStatus, PrinterID: p, Time: at,
			Status: &Status{PrinterID: p, State: StatePrinting, Progress: 1.5, Time: at}}, "progress"},
		{"event without code", Record{Seq: 1, Kind: KindEvent, PrinterID: p, Time: at,
			Event: &Event{Severity: SeverityInfo, Time: at}}, "empty code"},
		{"gap without feed", Record{Seq: 1, Kind: KindGap, PrinterID: p, Time: at, Gap: &Gap{}}, "empty feed"},
		// Unix nanoseconds in an int64 end in 2262: later times would
		// overflow in every store.
		{"year 9999", Record{Seq: 1, Kind: KindStatus, PrinterID: p, Time: y9999,
			Status: &Status{PrinterID: p, State: StateIdle, Time: y9999}}, "outside the years 1970 to 2261"},
		{"status time in year 9999", Record{Seq: 1, Kind: KindStatus, PrinterID: p, Time: at,
			Status: &Status{PrinterID: p, State: StateIdle, Time: y9999}}, "status time 9999-01-01T00:00:00Z is outside"},
		{"log line before 1970", Record{Seq: 1, Kind: KindLog, PrinterID: p, Time: at,
			Log: &LogLine{Log: LogSession, Time: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)}}, "log time 1969-12-31"},
		{"year 2261", Record{Seq: 1, Kind: KindStatus, PrinterID: p, Time: y2261,
			Status: &Status{PrinterID: p, State: StateIdle, Time: y2261}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rec.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRoleValidAndNewID(t *testing.T) {
	for r, want := range map[Role]bool{RoleNone: false, RoleViewer: true, RoleOperator: true, RoleAdmin: true, Role(9): false} {
		if r.Valid() != want {
			t.Errorf("%v.Valid() = %v, want %v", r, !want, want)
		}
	}
	a, err := NewID("usr_")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewID("usr_")
	if !strings.HasPrefix(a, "usr_") || len(a) != 4+32 || a == b {
		t.Errorf("NewID: %q, %q; want distinct usr_ + 32 hex digits", a, b)
	}
}
