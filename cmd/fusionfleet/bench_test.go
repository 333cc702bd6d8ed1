package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/benchsuite"
	"github.com/google/go-cmp/cmp"
)

func TestWriteBenchTable(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name  string
		quick bool
		rows  []benchsuite.Row
		want  string
	}{
		{"met and missed", false, []benchsuite.Row{
			{Scenario: "ingest", Figure: "end to end", Value: 34000, Unit: "records/s", Reference: "raw INSERT", RefValue: 120000,
				Ratio: 0.2833, Target: "ratio ≥ 0.5", Met: &no, LoadStart: 1.93, LoadEnd: 2.41, CPUs: 2},
			{Scenario: "freshness", Figure: "p99", Value: 7.6, Unit: "s", Target: "≤ 10 s", Met: &yes, LoadStart: 2, LoadEnd: 2, CPUs: 2},
		}, `| scenario  | figure     | value           | reference (same run) | ratio | target      | met        | load 1m (2 CPUs) |
| --------- | ---------- | --------------- | -------------------- | ----- | ----------- | ---------- | ---------------- |
| ingest    | end to end | 34k records/s   | 120k raw INSERT      | 0.28  | ratio ≥ 0.5 | **MISSED** | 1.9 → 2.4        |
| freshness | p99        | 7.60 s          |                      |       | ≤ 10 s      | yes        | 2.0 → 2.0        |

MISSED ingest, end to end: 34k records/s (ratio 0.28 to 120k raw INSERT), target ratio ≥ 0.5
`},
		{"skipped and failed, quick", true, []benchsuite.Row{
			{Scenario: "pg", Skipped: "no PostgreSQL server given (--postgres URL)", CPUs: 4},
			{Scenario: "poll", Error: "helper process: EOF", LoadStart: 1, LoadEnd: 1.5, CPUs: 4},
		}, `Quick run (-quick): small sizes, to show that every scenario runs; the figures are not the scenarios'.

| scenario | figure | value   | reference (same run) | ratio | target | met | load 1m (4 CPUs) |
| -------- | ------ | ------- | -------------------- | ----- | ------ | --- | ---------------- |
| pg       | —      | skipped |                      |       |        |     |                  |
| poll     | —      | FAILED  |                      |       |        |     | 1.0 → 1.5        |

skipped pg: no PostgreSQL server given (--postgres URL)
FAILED poll: helper process: EOF
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			writeBenchTable(&out, tt.quick, tt.rows)
			// The value column is as wide as its widest cell: compare
			// with the spaces collapsed.
			if diff := cmp.Diff(squeeze(tt.want), squeeze(out.String())); diff != "" {
				t.Errorf("table (-want +got):\n%s\ngot:\n%s", diff, out.String())
			}
		})
	}
}

// squeeze collapses runs of spaces and dashes, so that a comparison does
// not depend on column widths.
func squeeze(s string) string {
	var b strings.Builder
	var last rune
	for _, r := range s {
		if (r == ' ' || r == '-') && r == last {
			continue
		}
		b.WriteRune(r)
		last = r
	}
	return b.String()
}

func TestSelectScenarios(t *testing.T) {
	all := []benchsuite.Scenario{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	tests := []struct {
		only    string
		want    []string
		wantErr string
	}{
		{"", []string{"a", "b", "c"}, ""},
		{"c,a", []string{"a", "c"}, ""},
		{" b , ", []string{"b"}, ""},
		{"a,zz,yy", nil, "no scenario yy, zz; the scenarios are a, b, c"},
	}
	for _, tt := range tests {
		t.Run(tt.only, func(t *testing.T) {
			got, err := selectScenarios(all, tt.only)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("scenarios (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBenchCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"unknown scenario", []string{"bench", "-only", "nope"}, 2, "", "no scenario nope; the scenarios are ingest-stream"},
		{"list", []string{"bench", "-list"}, 0, "poll ", ""},
		{"unknown flag", []string{"bench", "-fast"}, 2, "", "flag provided but not defined: -fast"},
		{"stray argument", []string{"bench", "all"}, 2, "", `unexpected argument "all"`},
		{"help", []string{"bench", "-h"}, 0, "-postgres URL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stdout %q, want %q in it; stderr %q, want %q in it", stdout, tt.wantStdout, stderr, tt.wantStderr)
			}
		})
	}
}

// A quick run of a fast scenario runs the real harness and prints its
// figures, as a table and as JSON.
func TestBenchQuick(t *testing.T) {
	code, stdout, stderr := runArgs(t, "bench", "-quick", "-processes=false", "-only", "store-ingest-sqlite,store-ingest-postgres", "-json")
	if code != 0 {
		t.Fatalf("exit code %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "2/2 store-ingest-postgres") {
		t.Errorf("stderr %q: no progress", stderr)
	}
	var report benchReport
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if !report.Quick || report.CPUs < 1 || len(report.Rows) != 2 {
		t.Fatalf("report = %+v, want a quick one of two rows", report)
	}
	ran, skipped := report.Rows[0], report.Rows[1]
	if ran.Scenario != "store-ingest-sqlite" || ran.Value <= 0 || ran.RefValue <= 0 || ran.Ratio <= 0 || ran.Error != "" {
		t.Errorf("store-ingest-sqlite row = %+v, want a figure, a reference and their ratio", ran)
	}
	if skipped.Scenario != "store-ingest-postgres" || !strings.Contains(skipped.Skipped, "--postgres") {
		t.Errorf("store-ingest-postgres row = %+v, want it skipped without a server", skipped)
	}

	code, stdout, stderr = runArgs(t, "bench", "-quick", "-only", "store-ingest-sqlite")
	if code != 0 || !strings.Contains(stdout, "| store-ingest-sqlite | ApplyEnvelope, layers |") || !strings.Contains(stdout, "raw multi-row INSERT") {
		t.Errorf("exit code %d, table:\n%s\nstderr: %s", code, stdout, stderr)
	}
}
