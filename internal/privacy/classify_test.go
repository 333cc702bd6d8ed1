package privacy

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// allow classifies every named field as allowed to leave the site.
func allow(fields ...string) map[string]bool {
	m := make(map[string]bool, len(fields))
	for _, f := range fields {
		m[f] = true
	}
	return m
}

// Every field of the device wire types, nested ones included, must be
// classified here. A new field fails TestEveryDeviceFieldIsClassified until
// someone decides whether it may leave the site and, if so, copies it in
// this package on purpose (R-PRIV-2).
var classified = map[string]map[string]bool{ // type → field → may leave the site
	"deviceapi.Identity": {"Identity": true, "Instance": false},
	"fleet.Identity": allow("PrinterID", "Name", "Model", "ModelNumber", "SerialNumber", "Firmware", "ParameterSet",
		"Size", "DiskBytes", "MemoryBytes", "Date", "UptimeSec"),
	"deviceapi.Status": allow("State", "Activity", "Job", "ETCSeconds", "PendingJobs", "Time"),
	"deviceapi.CurrentJob": {
		"ID": true, "Progress": true, "Private": false,
		// Layer counts are shown locally; the heartbeat carries progress
		// instead, and the job record the counts.
		"LayersDone": false, "LayersTotal": false,
	},
	"deviceapi.JobPrivate":  {"Name": false, "User": false, "Host": false},
	"deviceapi.PartPrivate": {"Name": false, "GeometryRef": false},
	"deviceapi.Job": {
		"Job": true, "Private": false,
		"Seq":   false, // position in the printer's feed: the gateway's cursor, not data
		"Parts": true,  // each travels as its own record (see Part)
	},
	"fleet.Job": allow("ID", "CreatedAt", "StartedAt", "FinishedAt", "SourceApp",
		// SourceHostID is never taken from the printer: Job sets it from
		// SourceHostID(secret, Private.Host).
		"SourceHostID",
		"BoundingBox", "VolumeCM3", "SurfaceCM2", "Density", "LayerCount", "LayerThicknessMM", "Material", "PartMaterials",
		"RecyclableKG", "RecycledShare", "PrintMode", "ParameterSet", "BuildUnitID", "Status", "LayersDone", "PartCount", "Warnings", "SubJobs"),
	"fleet.JobWarning": allow("ID", "Message", "Severity", "Time"),
	"fleet.SubJob":     allow("Kind", "Status", "CompletionPercent", "DurationSec", "Start", "End"),
	"fleet.Box":        allow("Min", "Max"),
	"fleet.Vec3":       allow("X", "Y", "Z"),
	"deviceapi.Part":   {"Part": true, "Private": false},
	"fleet.Part": allow("ID", "JobID", "CreatedAt", "ProcessingStart", "ProcessingEnd", "PrintStart", "PrintEnd",
		"BoundingBox", "VolumeCM3", "SurfaceCM2", "MaterialG", "Outcome", "CompletionDetails"),
	"fleet.Event":   allow("Seq", "Code", "Description", "Severity", "Time", "Firmware", "Subsystem", "Details"),
	"fleet.Layer":   allow("Seq", "JobID", "Index", "SizeMM2", "DurationSec", "Start", "End"),
	"fleet.LogLine": allow("Seq", "Log", "Time", "Text"),
	// The pages' own fields are the gateway's bookkeeping; their items are
	// copied one by one.
	"deviceapi.Page[fleet.Event]":   {"Items": true, "Instance": false, "Next": false, "First": false},
	"deviceapi.Page[deviceapi.Job]": {"Items": true, "Instance": false, "Next": false, "First": false},
	"deviceapi.Page[fleet.Layer]":   {"Items": true, "Instance": false, "Next": false, "First": false},
	"deviceapi.Page[fleet.LogLine]": {"Items": true, "Instance": false, "Next": false, "First": false},
	"fleet.Counters": allow("TotalJobs", "CompletedJobs", "Layers", "Parts", "PrintVolumeCM3", "PrintTimeSec",
		"AgentsConsumedML", "MaterialConsumedKG", "CoolingSystemHours", "FilterStatusPercent", "LampUsageHours",
		"IntermediateTanks", "AgentSystemHours", "ServiceStationUses", "CarriageCycles", "SystemErrors", "Time"),
	"fleet.Consumables":  allow("CleaningRoll", "Agents", "Printheads", "BuildUnits", "Lamps", "Time"),
	"fleet.CleaningRoll": allow("PartNumber", "Status", "UsagePercent"),
	"fleet.AgentSupply":  allow("Agent", "UsedCC", "BuildUnitInserts", "SupplyStatus", "SupplyLevelPercent"),
	"fleet.Printhead": allow("Slot", "Type", "UUID", "Status", "PartNumber", "SerialNumber", "AgentUsedCC", "InstallDate",
		"UsageHours", "RecoveryLevel", "LastErrorCode", "LastErrorTime", "NonOriginalAgent", "ExpiredAgent", "WarrantyEnd",
		"WarrantyStatus", "ManufactureDate"),
	"fleet.BuildUnits": allow("TotalInserts", "Installed"),
	"fleet.BuildUnit": allow("PartNumber", "SerialNumber", "Inserts", "Status", "UsageHours", "Material", "RecycledPercent",
		"MaterialKG", "NonOriginalMaterial", "ExpiredMaterial", "Printers"),
	"fleet.BuildUnitPrinter": allow("ProductNumber", "SerialNumber", "Firmware", "Connected", "Disconnected"),
	"fleet.Lamp":             allow("Position", "Hours", "IntensityPercent", "Status"),
}

// wireRoots are the answers of every device API route.
var wireRoots = []reflect.Type{
	reflect.TypeFor[deviceapi.Identity](),
	reflect.TypeFor[deviceapi.Status](),
	reflect.TypeFor[deviceapi.EventPage](),
	reflect.TypeFor[deviceapi.JobPage](),
	reflect.TypeFor[deviceapi.LayerPage](),
	reflect.TypeFor[deviceapi.LogPage](),
	reflect.TypeFor[fleet.Counters](),
	reflect.TypeFor[fleet.Consumables](),
}

// typeName names a type as classified does: package.Type, with generic
// arguments shortened the same way.
func typeName(t reflect.Type) string {
	return strings.ReplaceAll(t.String(), "github.com/fusionfleet/fusionfleet/internal/", "")
}

var timeType = reflect.TypeFor[time.Time]()

func TestEveryDeviceFieldIsClassified(t *testing.T) {
	seen := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == timeType {
			return
		}
		name := typeName(typ)
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
		for f := range fields {
			if _, ok := typ.FieldByName(f); !ok {
				t.Errorf("classified field %s.%s does not exist", name, f)
			}
		}
	}
	for _, r := range wireRoots {
		walk(r)
	}
	for name := range classified {
		if !seen[name] {
			t.Errorf("classified type %s is not reachable from the wire types", name)
		}
	}
}

// filler sets every field of a device value to a distinct non-zero value:
// strings to "ok-<path>" where the field may leave the site and
// "CANARY-<path>" where it or a field above it is private; private numbers
// to values from privateBase up. It records what it set.
type filler struct {
	n       int
	allowed []string // "ok-" strings set
	private []string // canaries set: strings and numbers in text form
}

const privateBase = 7770000

func (f *filler) fill(v reflect.Value, path string, private bool) {
	f.n++
	t := v.Type()
	switch {
	case t == timeType:
		v.Set(reflect.ValueOf(time.Date(2026, 3, 2, 9, 0, f.n, 0, time.UTC)))
		return
	case v.Kind() == reflect.Uint8 && reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()):
		v.SetUint(uint64(1 + f.n%3)) // a valid State or Severity
		return
	}
	switch v.Kind() {
	case reflect.String:
		if private {
			s := "CANARY-" + path
			f.private = append(f.private, s)
			v.SetString(s)
		} else {
			s := "ok-" + path
			f.allowed = append(f.allowed, s)
			v.SetString(s)
		}
	case reflect.Int, reflect.Int64, reflect.Uint64:
		n := f.n
		if private {
			n = privateBase + f.n
			f.private = append(f.private, fmt.Sprint(n))
		}
		if v.Kind() == reflect.Uint64 {
			v.SetUint(uint64(n))
		} else {
			v.SetInt(int64(n))
		}
	case reflect.Float64:
		v.SetFloat(float64(f.n) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(t.Elem()))
		f.fill(v.Elem(), path, private)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(t, 2, 2))
		for i := range 2 {
			f.fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i), private)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(t))
		k := reflect.New(t.Key()).Elem()
		f.fill(k, path+"-key", private)
		e := reflect.New(t.Elem()).Elem()
		f.fill(e, path+"-value", private)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		fields := classified[typeName(t)]
		for i := range t.NumField() {
			sf := t.Field(i)
			f.fill(v.Field(i), path+"."+sf.Name, private || !fields[sf.Name])
		}
	default:
		panic(fmt.Sprintf("filler: no rule for %s at %s", t, path))
	}
}

// filled returns a T with every field set, and the filler that set it.
func filled[T any](t *testing.T) (T, *filler) {
	t.Helper()
	var v T
	f := &filler{}
	f.fill(reflect.ValueOf(&v).Elem(), typeName(reflect.TypeFor[T]()), false)
	return v, f
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// uplinkCase runs one privacy function over a filled device value.
type uplinkCase struct {
	name string
	run  func(t *testing.T) (out any, f *filler)
}

var uplinkCases = []uplinkCase{
	{"Identity", func(t *testing.T) (any, *filler) {
		in, f := filled[deviceapi.Identity](t)
		return Identity(in), f
	}},
	{"Status", func(t *testing.T) (any, *filler) {
		in, f := filled[deviceapi.Status](t)
		return Status("printer-0001", in), f
	}},
	{"Event", func(t *testing.T) (any, *filler) {
		in, f := filled[deviceapi.EventPage](t)
		var out []fleet.Event
		for _, e := range in.Items {
			out = append(out, Event(e))
		}
		return out, f
	}},
	{"Job and Part", func(t *testing.T) (any, *filler) {
		in, f := filled[deviceapi.JobPage](t)
		var out []any
		for _, j := range in.Items {
			out = append(out, Job(j, SourceHostID(testSecret, j.Private.Host)))
			for _, p := range j.Parts {
				out = append(out, Part(p))
			}
		}
		return out, f
	}},
	{"Layer", func(t *testing.T) (any, *filler) {
		in, f := filled[deviceapi.LayerPage](t)
		var out []fleet.Layer
		for _, l := range in.Items {
			out = append(out, Layer(l))
		}
		return out, f
	}},
	{"LogLine", func(t *testing.T) (any, *filler) {
		in, f := filled[deviceapi.LogPage](t)
		var out []fleet.LogLine
		for _, l := range in.Items {
			out = append(out, LogLine(l))
		}
		return out, f
	}},
	{"Counters", func(t *testing.T) (any, *filler) {
		in, f := filled[fleet.Counters](t)
		return Counters(in), f
	}},
	{"Consumables", func(t *testing.T) (any, *filler) {
		in, f := filled[fleet.Consumables](t)
		return Consumables(in), f
	}},
}

// TestCanaries sets every private field of every device wire type to a
// canary and checks that no canary reaches what this package returns.
func TestCanaries(t *testing.T) {
	total := 0
	for _, tc := range uplinkCases {
		t.Run(tc.name, func(t *testing.T) {
			out, f := tc.run(t)
			b, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range f.private {
				if strings.Contains(string(b), c) {
					t.Errorf("output leaks private %q: %s", c, b)
				}
			}
			total += len(f.private)
		})
	}
	// The cases must reach every private field: JobPrivate and PartPrivate
	// (3 + 2 strings, in 2 jobs × 2 parts), Identity and the pages'
	// bookkeeping, CurrentJob's layer counts.
	if total < 30 {
		t.Errorf("only %d canaries set: the filler no longer reaches the private fields", total)
	}
}

// TestAllowedFieldsReachTheUplink checks the other direction: every
// string the printer set in an allowed field arrives.
func TestAllowedFieldsReachTheUplink(t *testing.T) {
	for _, tc := range uplinkCases {
		t.Run(tc.name, func(t *testing.T) {
			out, f := tc.run(t)
			b, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range f.allowed {
				if strings.HasSuffix(s, ".SourceHostID") {
					continue // replaced on purpose
				}
				if !strings.Contains(string(b), `"`+s+`"`) && !strings.Contains(string(b), `"`+s+`":`) {
					t.Errorf("allowed %q does not reach the uplink", s)
				}
			}
		})
	}
}

// TestCopiesAreExact checks that the copies of fully populated values
// equal their input in every allowed field, and that they share no
// memory with it: scribbling over the input afterwards changes nothing.
func TestCopiesAreExact(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T) (in, want, got any)
	}{
		{"Job", func(t *testing.T) (any, any, any) {
			in, _ := filled[deviceapi.Job](t)
			want := in.Job
			want.SourceHostID = SourceHostID(testSecret, in.Private.Host)
			return &in, clone(t, want), Job(in, SourceHostID(testSecret, in.Private.Host))
		}},
		{"Part", func(t *testing.T) (any, any, any) {
			in, _ := filled[deviceapi.Part](t)
			return &in, clone(t, in.Part), Part(in)
		}},
		{"Layer", func(t *testing.T) (any, any, any) {
			in, _ := filled[fleet.Layer](t)
			return &in, clone(t, in), Layer(in)
		}},
		{"LogLine", func(t *testing.T) (any, any, any) {
			in, _ := filled[fleet.LogLine](t)
			return &in, clone(t, in), LogLine(in)
		}},
		{"Counters", func(t *testing.T) (any, any, any) {
			in, _ := filled[fleet.Counters](t)
			return &in, clone(t, in), Counters(in)
		}},
		{"Consumables", func(t *testing.T) (any, any, any) {
			in, _ := filled[fleet.Consumables](t)
			return &in, clone(t, in), Consumables(in)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, want, got := tt.run(t)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("copy (-want +got):\n%s", diff)
			}
			scribble(reflect.ValueOf(in).Elem())
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("copy changed with its input (-want +got):\n%s", diff)
			}
		})
	}
}

// clone deep-copies v through JSON.
func clone[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// scribble changes every string, number and map value reachable from v in
// place, through slices, maps and pointers.
func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "-scribbled")
	case reflect.Float64:
		v.SetFloat(v.Float() + 1000)
	case reflect.Pointer:
		if !v.IsNil() {
			scribble(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			scribble(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			scribble(e)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				scribble(v.Field(i))
			}
		}
	}
}
