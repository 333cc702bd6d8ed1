package privacy

import (
	"encoding/json"
	"reflect"
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
				Job: &deviceapi.Job{
					ID: "j7Qx2", Name: "CANARY-job-name", User: "CANARY-job-user", Host: "CANARY-job-host",
					Progress: 0.25, LayersDone: 812, LayersTotal: 4750,
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
				Job:      &deviceapi.Job{ID: "j1", Name: "CANARY-job-name", User: "CANARY-job-user", Host: "CANARY-job-host"},
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
				Job:      &deviceapi.Job{ID: "j2", Name: "CANARY-job-name-v2", User: "CANARY-job-name"},
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
			SerialNumber: "SN123", Firmware: "1.2.3", Size: "380x284x380 mm",
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

// Every field of the device wire types must be classified here. A new field
// fails this test until someone decides whether it may leave the site and,
// if so, copies it in this package on purpose (R-PRIV-2).
var classified = map[string]map[string]bool{ // type → field → may leave the site
	"deviceapi.Status": {
		"State": true, "Activity": true, "Job": true, "ETCSeconds": true, "PendingJobs": true, "Time": true,
	},
	"deviceapi.Job": {
		"ID": true, "Progress": true,
		"Name": false, "User": false, "Host": false,
		// Layer counts are shown locally; the uplink carries progress instead.
		"LayersDone": false, "LayersTotal": false,
	},
	"deviceapi.Identity": {"Identity": true, "Instance": false},
	"fleet.Identity": {
		"PrinterID": true, "Name": true, "Model": true, "ModelNumber": true, "SerialNumber": true,
		"Firmware": true, "Size": true, "DiskBytes": true, "MemoryBytes": true, "Date": true, "UptimeSec": true,
	},
	"fleet.Event": {
		"Seq": true, "Code": true, "Description": true, "Severity": true, "Time": true,
		"Firmware": true, "Subsystem": true, "Details": true,
	},
}

func TestEveryDeviceFieldIsClassified(t *testing.T) {
	roots := []reflect.Type{
		reflect.TypeFor[deviceapi.Status](),
		reflect.TypeFor[deviceapi.Identity](),
		reflect.TypeFor[fleet.Event](),
	}
	seen := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() == "time" {
			return
		}
		name := typ.String()
		if seen[name] {
			return
		}
		seen[name] = true
		fields, ok := classified[name]
		if !ok {
			t.Errorf("type %s is reachable from the device wire types but not classified", name)
			return
		}
		for f := range typ.Fields() {
			if _, ok := fields[f.Name]; !ok {
				t.Errorf("field %s.%s is not classified as allowed or private: decide, and copy it in package privacy only if R-DATA names it", name, f.Name)
			}
			walk(f.Type)
		}
	}
	for _, r := range roots {
		walk(r)
	}
}

// TestAllowedFieldsReachTheUplink checks the other direction: a field
// classified as allowed is in fact copied (a value set in it survives).
func TestAllowedFieldsReachTheUplink(t *testing.T) {
	in := deviceapi.Status{
		State: fleet.StateCooling, Activity: "cooling", ETCSeconds: 42, PendingJobs: 3, Time: t0,
		Job: &deviceapi.Job{ID: "job-x", Progress: 1},
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
