package fleet

import (
	"strings"
	"testing"
	"time"
)

func TestDiagnosticRequestValidate(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ok := DiagnosticRequest{ID: "dg_0123456789abcdef0123456789abcdef", PrinterID: "printer-1", Kind: DiagnosticLogs,
		Logs: []LogKind{LogSession}, From: t0.Add(-time.Hour), To: t0, MaxBytes: 1 << 20}
	tests := []struct {
		name   string
		change func(r *DiagnosticRequest)
		want   string
	}{
		{"valid", func(*DiagnosticRequest) {}, ""},
		{"snapshot", func(r *DiagnosticRequest) {
			r.Kind, r.Logs, r.From, r.To = DiagnosticSnapshot, nil, time.Time{}, time.Time{}
		}, ""},
		{"forged id", func(r *DiagnosticRequest) { r.ID = "dg_../../etc" }, "malformed"},
		{"unknown kind", func(r *DiagnosticRequest) { r.Kind = "shell" }, "kind"},
		{"no logs", func(r *DiagnosticRequest) { r.Logs = nil }, "at least one log"},
		{"unknown log", func(r *DiagnosticRequest) { r.Logs = []LogKind{"passwd"} }, "unknown"},
		{"log twice", func(r *DiagnosticRequest) { r.Logs = []LogKind{LogSession, LogSession} }, "twice"},
		{"no window", func(r *DiagnosticRequest) { r.From = time.Time{} }, "needs a window"},
		{"backwards window", func(r *DiagnosticRequest) { r.From, r.To = r.To, r.From }, "not before"},
		{"absurd window", func(r *DiagnosticRequest) { r.From = r.To.Add(-MaxDiagnosticWindow - time.Second) }, "at most"},
		{"year 9999", func(r *DiagnosticRequest) { r.To = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }, "out of range"},
		{"too large", func(r *DiagnosticRequest) { r.MaxBytes = MaxDiagnosticBytes + 1 }, "max_bytes"},
		{"too small", func(r *DiagnosticRequest) { r.MaxBytes = 1 }, "max_bytes"},
		{"snapshot with window", func(r *DiagnosticRequest) { r.Kind = DiagnosticSelfTest }, "no logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.change(&r)
			err := r.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDiagnosticStateMoves(t *testing.T) {
	tests := []struct {
		from, to DiagnosticState
		want     bool
	}{
		{DiagRequested, DiagDelivered, true},
		{DiagDelivered, DiagApproved, true},
		{DiagDelivered, DiagRefused, true},
		{DiagRequested, DiagRefused, true},
		{DiagApproved, DiagRefused, false},
		{DiagApproved, DiagRunning, true},
		{DiagRunning, DiagDone, true},
		{DiagRunning, DiagApproved, false},
		{DiagUploading, DiagUploading, false},
		{DiagUploading, DiagFailed, true},
		{DiagDone, DiagFailed, false},
		{DiagRequested, DiagCancelled, true},
		{DiagDelivered, DiagExpired, true},
		{DiagApproved, DiagCancelled, false},
		{DiagCancelled, DiagApproved, false},
		{DiagRequested, "bogus", false},
	}
	for _, tt := range tests {
		if got := tt.from.CanMove(tt.to); got != tt.want {
			t.Errorf("%s → %s: %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestDiagnosticChunkValidate(t *testing.T) {
	id := DiagnosticID("dg_0123456789abcdef0123456789abcdef")
	tests := []struct {
		c    DiagnosticChunkData
		want bool
	}{
		{DiagnosticChunkData{ID: id, Index: 0, Chunks: 1, Data: []byte("x")}, true},
		{DiagnosticChunkData{ID: id, Index: 1, Chunks: 1, Data: []byte("x")}, false},
		{DiagnosticChunkData{ID: id, Index: -1, Chunks: 1, Data: []byte("x")}, false},
		{DiagnosticChunkData{ID: id, Index: 0, Chunks: MaxDiagnosticChunks + 1, Data: []byte("x")}, false},
		{DiagnosticChunkData{ID: id, Index: 0, Chunks: 1, Data: nil}, false},
		{DiagnosticChunkData{ID: id, Index: 0, Chunks: 1, Data: make([]byte, DiagnosticChunk+1)}, false},
		{DiagnosticChunkData{ID: "dg_x", Index: 0, Chunks: 1, Data: []byte("x")}, false},
	}
	for i, tt := range tests {
		if err := tt.c.Validate(); (err == nil) != tt.want {
			t.Errorf("%d: Validate = %v, want valid %v", i, err, tt.want)
		}
	}
}
