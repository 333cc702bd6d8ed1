package privacy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// canaries are the private strings of the device values below. None of them
// may appear in anything this package returns.
var canaries = []string{"CANARY-job-name", "CANARY-job-user", "CANARY-job-host", "CANARY-instance"}

func TestStatusDropsPrivateFields(t *testing.T) {
	tests := []struct {
		name string
		in   deviceapi.Status
		want fleet.Status
	}{
		{
			name: "printing",
			in: deviceapi.Status{
				State:    fleet.StatePrinting,
				Activity: "printing layer 812 of 4750",
				Job: &deviceapi.CurrentJob{
					ID: "j7Qx2", Progress: 0.25, LayersDone: 812, LayersTotal: 4750,
					Private: deviceapi.JobPrivate{Name: "CANARY-job-name", User: "CANARY-job-user", Host: "CANARY-job-host"},
				},
				ETCSeconds: 3600, PendingJobs: 2, Time: t0,
			},
			want: fleet.Status{
				PrinterID: "printer-0001", State: fleet.StatePrinting, Activity: "printing layer 812 of 4750",
				JobID: "j7Qx2", Progress: 0.25, ETCSeconds: 3600, PendingJobs: 2, Time: t0,
			},
		},
		{
			name: "private names written into the activity",
			in: deviceapi.Status{
				State:    fleet.StatePrinting,
				Activity: "printing CANARY-job-name for CANARY-job-user@CANARY-job-host",
				Job:      &deviceapi.CurrentJob{ID: "j1", Private: deviceapi.JobPrivate{Name: "CANARY-job-name", User: "CANARY-job-user", Host: "CANARY-job-host"}},
				Time:     t0,
			},
			want: fleet.Status{
				PrinterID: "printer-0001", State: fleet.StatePrinting,
				Activity: "printing [private] for [private]@[private]", JobID: "j1", Time: t0,
			},
		},
		{
			name: "one private name contains another",
			in: deviceapi.Status{
				State:    fleet.StateCooling,
				Activity: "cooling CANARY-job-name-v2",
				Job:      &deviceapi.CurrentJob{ID: "j2", Private: deviceapi.JobPrivate{Name: "CANARY-job-name-v2", User: "CANARY-job-name"}},
				Time:     t0,
			},
			want: fleet.Status{
				PrinterID: "printer-0001", State: fleet.StateCooling, Activity: "cooling [private]", JobID: "j2", Time: t0,
			},
		},
		{
			name: "idle",
			in:   deviceapi.Status{State: fleet.StateIdle, Activity: "idle", PendingJobs: 0, Time: t0},
			want: fleet.Status{PrinterID: "printer-0001", State: fleet.StateIdle, Activity: "idle", Time: t0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Status("printer-0001", tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Status() mismatch (-want +got):\n%s", diff)
			}
			assertNoCanary(t, got)
		})
	}
}

func TestIdentityDropsInstance(t *testing.T) {
	in := deviceapi.Identity{
		Identity: fleet.Identity{
			PrinterID: "printer-0001", Name: "3DP 1", Model: "PBF 5200", ModelNumber: "M0P44A",
			SerialNumber: "SN123", Firmware: "1.2.3", ParameterSet: "PA12-balanced-7", Size: "380x284x380 mm",
			DiskBytes: 1 << 40, MemoryBytes: 1 << 34, Date: t0, UptimeSec: 3600,
		},
		Instance: "CANARY-instance",
	}
	got := Identity(in)
	if diff := cmp.Diff(in.Identity, got); diff != "" {
		t.Errorf("Identity() mismatch (-want +got):\n%s", diff)
	}
	assertNoCanary(t, got)
}

func TestEventCopiesEveryAllowedField(t *testing.T) {
	in := fleet.Event{
		Seq: 7, Code: "E-101", Description: "lamp fault", Severity: fleet.SeverityError, Time: t0,
		Firmware: "1.2.3", Subsystem: "lamps", Details: "lamp 2 current 0 A",
	}
	if diff := cmp.Diff(in, Event(in)); diff != "" {
		t.Errorf("Event() mismatch (-want +got):\n%s", diff)
	}
}

func assertNoCanary(t *testing.T, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	for _, c := range canaries {
		if strings.Contains(string(b), c) {
			t.Errorf("output leaks %q: %s", c, b)
		}
	}
}

// TestStatusCopiesAllowedFields: a field classified as allowed is in fact
// copied (a value set in it survives).
func TestStatusCopiesAllowedFields(t *testing.T) {
	in := deviceapi.Status{
		State: fleet.StateCooling, Activity: "cooling", ETCSeconds: 42, PendingJobs: 3, Time: t0,
		Job: &deviceapi.CurrentJob{ID: "job-x", Progress: 1},
	}
	got := Status("printer-0001", in)
	want := fleet.Status{
		PrinterID: "printer-0001", State: fleet.StateCooling, Activity: "cooling", JobID: "job-x",
		Progress: 1, ETCSeconds: 42, PendingJobs: 3, Time: t0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Status() mismatch (-want +got):\n%s", diff)
	}
}

func TestSourceHostID(t *testing.T) {
	secret := []byte("site-secret-0123456789abcdef0123")
	// Known answer: HMAC-SHA256(secret, "CAD-WS-07"), first 16 hex digits.
	// Pinned so that a refactoring cannot silently re-key every site.
	if got, want := SourceHostID(secret, "CAD-WS-07"), "f26284d95bbda667"; got != want {
		t.Errorf("SourceHostID: got %s, want %s", got, want)
	}
	tests := []struct {
		name     string
		a, b     string
		secretB  []byte
		wantSame bool
	}{
		{"same host, same site", "CAD-WS-07", "CAD-WS-07", secret, true},
		{"other host", "CAD-WS-07", "CAD-WS-08", secret, false},
		{"same host, other site", "CAD-WS-07", "CAD-WS-07", []byte("another-site-secret-0123456789ab"), false},
		{"case counts", "CAD-WS-07", "cad-ws-07", secret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := SourceHostID(secret, tt.a), SourceHostID(tt.secretB, tt.b)
			if (a == b) != tt.wantSame {
				t.Errorf("%s vs %s: IDs %s and %s, want same %v", tt.a, tt.b, a, b, tt.wantSame)
			}
			for _, id := range []string{a, b} {
				if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
					t.Errorf("ID %q: want 16 lower-case hex digits", id)
				}
			}
		})
	}
	// Not derived from the name alone: a plain hash of the name is not it.
	if got := SourceHostID(secret, "CAD-WS-07"); got == "85cad7b9f6817cd9" || strings.Contains(got, "CAD") {
		t.Errorf("SourceHostID %s is derivable without the secret", got)
	}
}

// The printer's own text in a job (source application, warnings, sub-job
// kinds, part completion details) is kept, but a private name written into
// it is redacted, as in the status activity.
func TestJobAndPartRedactPrivateNames(t *testing.T) {
	priv := deviceapi.JobPrivate{Name: "CANARY-job-name", User: "CANARY-job-user", Host: "CANARY-job-host"}
	in := deviceapi.Job{
		Seq: 9,
		Job: fleet.Job{
			ID: "J1", CreatedAt: t0, Status: fleet.JobPrinting, SourceApp: "Build Manager 5.1 on CANARY-job-host",
			SourceHostID: "printer-made-this-up",
			Warnings: []fleet.JobWarning{
				{ID: "W1", Message: "lamp 2 weak", Severity: fleet.SeverityWarning, Time: t0},
				{ID: "W2", Message: "CANARY-job-name: powder low", Severity: fleet.SeverityError, Time: t0},
			},
			SubJobs: []fleet.SubJob{{Kind: "printing", Status: "running"}, {Kind: "cooling CANARY-job-name", Status: "pending"}},
		},
		Private: priv,
		Parts: []deviceapi.Part{{
			Part:    fleet.Part{ID: "P1", JobID: "J1", Outcome: fleet.PartWarp, CompletionDetails: "CANARY-part-name warped 0.4 mm"},
			Private: deviceapi.PartPrivate{Name: "CANARY-part-name", GeometryRef: "CANARY-geometry.3mf"},
		}},
	}
	got := Job(in, "ab12cd34ef56ab78")
	want := fleet.Job{
		ID: "J1", CreatedAt: t0, Status: fleet.JobPrinting, SourceApp: "Build Manager 5.1 on [private]",
		SourceHostID: "ab12cd34ef56ab78",
		Warnings: []fleet.JobWarning{
			{ID: "W1", Message: "lamp 2 weak", Severity: fleet.SeverityWarning, Time: t0},
			{ID: "W2", Message: "[private]: powder low", Severity: fleet.SeverityError, Time: t0},
		},
		SubJobs: []fleet.SubJob{{Kind: "printing", Status: "running"}, {Kind: "cooling [private]", Status: "pending"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Job() (-want +got):\n%s", diff)
	}
	gotPart := Part(in.Parts[0])
	wantPart := fleet.Part{ID: "P1", JobID: "J1", Outcome: fleet.PartWarp, CompletionDetails: "[private] warped 0.4 mm"}
	if diff := cmp.Diff(wantPart, gotPart); diff != "" {
		t.Errorf("Part() (-want +got):\n%s", diff)
	}
	assertNoCanary(t, got)
	assertNoCanary(t, gotPart)
	if b, _ := json.Marshal(gotPart); strings.Contains(string(b), "CANARY") {
		t.Errorf("part leaks: %s", b)
	}
	// Nil slices stay nil, empty ones empty: the copy says what the printer said.
	empty := Job(deviceapi.Job{Job: fleet.Job{Warnings: []fleet.JobWarning{}}}, "")
	if empty.Warnings == nil || len(empty.Warnings) != 0 || empty.SubJobs != nil || empty.PartMaterials != nil {
		t.Errorf("empty job copy: warnings %#v sub-jobs %#v materials %#v", empty.Warnings, empty.SubJobs, empty.PartMaterials)
	}
}
