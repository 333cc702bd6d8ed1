package benchrun

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		f       func(b B)
		want    map[string]float64
		wantErr string
	}{
		{"metrics after the loop", 3, func(b B) {
			ops := 0
			for b.Loop() {
				ops++
			}
			b.ReportMetric(float64(ops), "ops")
			b.ReportMetric(float64(b.N()), "n")
		}, map[string]float64{"ops": 3, "n": 3}, ""},
		{"reset drops earlier metrics", 1, func(b B) {
			b.ReportMetric(1, "setup")
			b.ResetTimer()
			b.ReportMetric(2, "figure")
		}, map[string]float64{"figure": 2}, ""},
		{"fatal ends the harness", 1, func(b B) {
			b.ReportMetric(1, "before")
			b.Fatalf("broke at %d", 7)
			b.ReportMetric(1, "after")
		}, map[string]float64{"before": 1}, "broke at 7"},
		{"errors are collected", 1, func(b B) {
			b.Error("one")
			b.Errorf("two %s", "too")
		}, map[string]float64{}, "one; two too"},
		{"a panic is an error", 1, func(b B) { panic("boom") }, map[string]float64{}, "panic: boom"},
		{"zero operations run one", 0, func(b B) { b.ReportMetric(float64(b.N()), "n") }, map[string]float64{"n": 1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Run(t.Context(), tt.n, tt.f)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Run error = %v, want one containing %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got.Metrics); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
		})
	}
}

// Cleanups run last first, after the context ended, and the temporary
// directories are gone after Run.
func TestRunCleansUp(t *testing.T) {
	var order []string
	var dir string
	var ctxDone bool
	_, err := Run(t.Context(), 1, func(b B) {
		dir = b.TempDir()
		if err := os.WriteFile(dir+"/f", []byte("x"), 0o600); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { order = append(order, "first") })
		b.Cleanup(func() {
			ctxDone = b.Context().Err() != nil
			order = append(order, "second")
		})
		b.Logf("logged %d", 1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"second", "first"}, order); diff != "" {
		t.Errorf("cleanup order (-want +got):\n%s", diff)
	}
	if !ctxDone {
		t.Error("the context was still live in the cleanups")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s: %v, want gone", dir, err)
	}
}

// The timer counts only what runs between StartTimer and StopTimer.
func TestRunTimer(t *testing.T) {
	res, err := Run(t.Context(), 2, func(b B) {
		b.StopTimer()
		if b.Elapsed() < 0 {
			b.Fatal("negative elapsed")
		}
		b.ResetTimer()
		if got := b.Elapsed(); got != 0 {
			b.Fatalf("elapsed after reset while stopped = %v, want 0", got)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Elapsed != 0 || res.N != 2 {
		t.Errorf("result = %+v, want N 2 and no time", res)
	}
}

var _ B = Testing(nil)
