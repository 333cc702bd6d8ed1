package fleetquery

import (
	"math"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	tests := []struct{ in, want int }{
		{-1, DefaultLimit}, {0, DefaultLimit}, {1, 1}, {MaxLimit, MaxLimit}, {MaxLimit + 1, MaxLimit},
	}
	for _, tt := range tests {
		if got := Limit(tt.in); got != tt.want {
			t.Errorf("Limit(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestBounds(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name           string
		from, to       time.Time
		wantLo, wantHi int64
	}{
		{"open", time.Time{}, time.Time{}, math.MinInt64, math.MaxInt64},
		{"from", t0, time.Time{}, t0.UnixNano(), math.MaxInt64},
		{"to", time.Time{}, t0, math.MinInt64, t0.UnixNano()},
		{"both", t0, t0.Add(time.Hour), t0.UnixNano(), t0.Add(time.Hour).UnixNano()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi := Bounds(tt.from, tt.to)
			if lo != tt.wantLo || hi != tt.wantHi {
				t.Errorf("Bounds = %d, %d; want %d, %d", lo, hi, tt.wantLo, tt.wantHi)
			}
		})
	}
}
