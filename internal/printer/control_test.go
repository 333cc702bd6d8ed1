package printer

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

const jobFile = `{"jobs":[{"name":"Secret gearbox","user":"canary.user","host":"CANARY-PC","material":"PA11","print_mode":"robust",
 "parts":[{"name":"canary-housing","geometry_ref":"parts/canary-housing-v7.3mf","size_mm":{"x":120,"y":80,"z":60},"volume_cm3":150},
          {"name":"canary-lid","geometry_ref":"parts/canary-lid.3mf","size_mm":{"x":120,"y":80,"z":10},"volume_cm3":40}]}]}`

func TestControlHandler(t *testing.T) {
	p, clk := newTestPrinter(t, 61, Options{})
	h := NewControlHandler(p, slog.New(slog.NewTextHandler(t.Output(), nil)))
	do := func(method, path, body string) (int, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: content type %q", method, path, ct)
		}
		return rec.Code, rec.Body.String()
	}
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 string // substring
	}{
		{"queue a job file", "POST", "/sim/v1/jobs", jobFile, 200, `"job_ids":["`},
		{"degrade a printhead", "POST", "/sim/v1/faults", `{"component":"printhead","slot":3,"mode":"degrade-fast"}`, 200, `"ok":true`},
		{"fail a lamp", "POST", "/sim/v1/faults", `{"component":"lamp","position":"fusing-1","mode":"fail-now"}`, 200, `"ok":true`},
		{"fail again while stopped", "POST", "/sim/v1/faults", `{"component":"carriage","mode":"fail-now"}`, 409, "not idle or printing"},
		{"non-original agent", "POST", "/sim/v1/supplies", `{"agent":"fusing","non_original":true}`, 200, `"ok":true`},
		{"expired powder", "POST", "/sim/v1/supplies", `{"powder":true,"expired":true}`, 200, `"ok":true`},
		{"truth", "GET", "/sim/v1/truth", "", 200, `"cumulative_hazard"`},
		{"unknown component", "POST", "/sim/v1/faults", `{"component":"laser","mode":"fail-now"}`, 400, "unknown component"},
		{"bad slot", "POST", "/sim/v1/faults", `{"component":"printhead","slot":9,"mode":"fail-now"}`, 400, "slot 9"},
		{"bad position", "POST", "/sim/v1/faults", `{"component":"lamp","position":"left","mode":"fail-now"}`, 400, "lamp position"},
		{"bad mode", "POST", "/sim/v1/faults", `{"component":"filter","mode":"explode"}`, 400, "unknown mode"},
		{"unknown field", "POST", "/sim/v1/faults", `{"component":"filter","mode":"fail-now","force":true}`, 400, "unknown field"},
		{"not JSON", "POST", "/sim/v1/faults", `component=filter`, 400, "request body"},
		{"trailing data", "POST", "/sim/v1/faults", `{"component":"filter","mode":"fail-now"} {}`, 400, "trailing data"},
		{"agent and powder", "POST", "/sim/v1/supplies", `{"agent":"cyan","powder":true}`, 400, "exactly one"},
		{"unknown agent", "POST", "/sim/v1/supplies", `{"agent":"green"}`, 400, "unknown agent"},
		{"empty job file", "POST", "/sim/v1/jobs", `{"jobs":[]}`, 400, "empty job file"},
		{"unknown material", "POST", "/sim/v1/jobs", `{"jobs":[{"name":"x","material":"ABS","parts":[{"size_mm":{"x":1,"y":1,"z":1},"volume_cm3":0.001}]}]}`, 400, "unknown material"},
		{"unknown mode", "POST", "/sim/v1/jobs", `{"jobs":[{"name":"x","print_mode":"turbo","parts":[{"size_mm":{"x":1,"y":1,"z":1},"volume_cm3":0.001}]}]}`, 400, "unknown print mode"},
		{"no parts", "POST", "/sim/v1/jobs", `{"jobs":[{"name":"x"}]}`, 400, "1 to 500 parts"},
		{"part too big", "POST", "/sim/v1/jobs", `{"jobs":[{"name":"x","parts":[{"size_mm":{"x":400,"y":10,"z":10},"volume_cm3":1}]}]}`, 400, "does not fit"},
		{"volume above box", "POST", "/sim/v1/jobs", `{"jobs":[{"name":"x","parts":[{"size_mm":{"x":10,"y":10,"z":10},"volume_cm3":2}]}]}`, 400, "volume"},
		{"too large", "POST", "/sim/v1/jobs", `{"jobs":[` + strings.Repeat(`{"name":"x"},`, 200_000) + `{}]}`, 413, "request body"},
		{"wrong method", "GET", "/sim/v1/faults", "", 405, "not allowed"},
		{"unknown route", "GET", "/sim/v1/nothing", "", 404, "no route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(tt.method, tt.path, tt.body)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %s, want %d with %q", status, body, tt.wantStatus, tt.wantBody)
			}
			if status >= 400 {
				var e errorBody
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
					t.Errorf("error body %q: want {\"error\": ...}", body)
				}
			}
		})
	}

	t.Run("queue full", func(t *testing.T) {
		var f JobFile
		if err := json.Unmarshal([]byte(jobFile), &f); err != nil {
			t.Fatal(err)
		}
		for range maxQueued {
			f.Jobs = append(f.Jobs, f.Jobs[0])
		}
		if _, err := p.QueueJobs(f); !errors.Is(err, ErrBusy) {
			t.Errorf("queue %d jobs: got %v, want ErrBusy", len(f.Jobs), err)
		}
	})

	// The effects show on the device API.
	clk.Advance(4 * 24 * time.Hour)
	codes := map[string]bool{}
	for _, e := range allEvents(p) {
		codes[e.Code] = true
	}
	for _, c := range []string{"LAMP_FAILED", "LAMP_REPLACED", "REPAIR_DONE", "AGENT_NON_ORIGINAL", "MATERIAL_EXPIRED"} {
		if !codes[c] {
			t.Errorf("no %s event after the control requests", c)
		}
	}
	cons := p.Consumables()
	if cons.Agents[0].SupplyStatus != "non-original" || !cons.Printheads[0].NonOriginalAgent || cons.Printheads[0].WarrantyStatus != "void" {
		t.Errorf("non-original fusing agent: agent %+v, printhead 1 %+v", cons.Agents[0], cons.Printheads[0])
	}
	var found bool
	for _, j := range p.Jobs(0, 1000).Items {
		if j.Private.Name == "Secret gearbox" {
			found = true
			if j.Material != "PA11" || j.PrintMode != "robust" || j.PartCount != 2 || j.Parts[0].Private.GeometryRef != "parts/canary-housing-v7.3mf" ||
				j.SourceApp != "job file" || j.SourceHostID != "" || strings.Contains(strings.ToLower(j.ID), "secret") {
				t.Errorf("queued job: %+v", j)
			}
		}
	}
	if !found {
		t.Error("queued job not in the jobs feed")
	}
	tr := p.Truth()
	var degraded, failedLamp bool
	for _, c := range tr.Components {
		if c.Component == "printhead" && c.Position == "PH3" && c.WearRate == degradeFastWear {
			degraded = true
		}
		if c.Component == "lamp" && c.Position == "fusing-1" && c.Failed && c.Injected && !c.Installed {
			failedLamp = true
		}
	}
	if !degraded || !failedLamp {
		t.Errorf("truth: degraded printhead %v, injected lamp failure %v", degraded, failedLamp)
	}
}

func TestInjectedPrintheadFailureReplacesIt(t *testing.T) {
	p, clk := newTestPrinter(t, 62, Options{})
	// Wait for printing, so the failure interrupts a job.
	for p.Status().State != fleet.StatePrinting {
		clk.Advance(10 * time.Minute)
	}
	before := p.Consumables().Printheads[1]
	if err := p.InjectFault(FaultRequest{Component: "printhead", Slot: 2, Mode: "fail-now"}); err != nil {
		t.Fatal(err)
	}
	if s := p.Status(); s.State != fleet.StateError || !strings.Contains(s.Activity, "PH2") {
		t.Errorf("status after failure: %+v", s)
	}
	if got := p.Consumables().Printheads[1]; got.Status != "failed" || got.LastErrorCode != "PRINTHEAD_FAILED" {
		t.Errorf("failed printhead: %+v", got)
	}
	clk.Advance(3 * time.Hour)
	after := p.Consumables().Printheads[1]
	if after.UUID == before.UUID || after.SerialNumber == before.SerialNumber || !after.InstallDate.After(before.InstallDate) || after.Status != "ok" {
		t.Errorf("printhead after repair %+v, before %+v: want a new one", after, before)
	}
	if s := p.Status(); s.State == fleet.StateError {
		t.Errorf("still in error 3 h after the failure: %+v", s)
	}
}

// FuzzControlRequests feeds arbitrary bodies to the control decoder: it
// never panics, and whatever it accepts encodes and decodes to itself.
func FuzzControlRequests(f *testing.F) {
	f.Add([]byte(jobFile))
	f.Add([]byte(`{"component":"printhead","slot":3,"mode":"degrade-fast"}`))
	f.Add([]byte(`{"agent":"fusing","non_original":true}`))
	f.Add([]byte(`{"jobs":[{"parts":[{"size_mm":{"x":1e308}}]}]} x`))
	f.Add([]byte(`{"jobs":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(v any, fresh func() any) {
			if err := decodeRequest(bytes.NewReader(b), v); err != nil {
				if err.Error() == "" {
					t.Fatal("empty error message")
				}
				return
			}
			again, err := json.Marshal(v)
			if err != nil {
				return // e.g. NaN cannot be encoded; it cannot be decoded either
			}
			w := fresh()
			if err := decodeRequest(bytes.NewReader(again), w); err != nil {
				t.Fatalf("re-decode %s: %v", again, err)
			}
			if diff := cmp.Diff(v, w); diff != "" {
				t.Fatalf("round trip (-first +second):\n%s", diff)
			}
		}
		check(&FaultRequest{}, func() any { return &FaultRequest{} })
		check(&SupplyRequest{}, func() any { return &SupplyRequest{} })
		check(&JobFile{}, func() any { return &JobFile{} })
		// The printer refuses bad job files with ErrInvalid or takes them whole.
		var jf JobFile
		if decodeRequest(bytes.NewReader(b), &jf) == nil && len(jf.Jobs) <= 3 {
			p := New(Options{Seed: 1, Clock: fixedClock{}})
			if _, err := p.QueueJobs(jf); err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("queue: %v", err)
			}
		}
	})
}

type fixedClock struct{}

func (fixedClock) Now() time.Time { return start }
