package fleetquery

import (
	"testing"
	"time"
)

func TestTrend(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		from, to  time.Time
		points    int
		wantWidth time.Duration
		wantN     int
		wantErr   bool
	}{
		{"a day in hours", t0, t0.Add(24 * time.Hour), 24, time.Hour, 24, false},
		{"uneven range rounds the width up", t0, t0.Add(10 * time.Nanosecond), 3, 4, 3, false},
		{"more points than nanoseconds", t0, t0.Add(2 * time.Nanosecond), 5, 1, 2, false},
		{"one point", t0, t0.AddDate(1, 0, 0), 1, 365 * 24 * time.Hour, 1, false},
		{"zero from", time.Time{}, t0, 10, 0, 0, true},
		{"zero to", t0, time.Time{}, 10, 0, 0, true},
		{"empty range", t0, t0, 10, 0, 0, true},
		{"no points", t0, t0.Add(time.Hour), 0, 0, 0, true},
		{"too many points", t0, t0.Add(time.Hour), MaxPoints + 1, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, width, n, err := Trend(tt.from, tt.to, tt.points)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Trend err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if lo != tt.from.UnixNano() || width != int64(tt.wantWidth) || n != tt.wantN {
				t.Errorf("Trend = %d, %d, %d; want %d, %d, %d", lo, width, n, tt.from.UnixNano(), tt.wantWidth, tt.wantN)
			}
			if hi := tt.to.UnixNano(); lo+width*int64(n) < hi || lo+width*int64(n-1) >= hi {
				t.Errorf("%d spans of %d from %d do not just cover up to %d", n, width, lo, hi)
			}
		})
	}
}
