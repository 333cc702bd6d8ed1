package fleetquery

import "testing"

func TestClampOffset(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{-5, 0}, {0, 0}, {50, 50}, {MaxOffset, MaxOffset}, {MaxOffset + 1, MaxOffset}} {
		if got := ClampOffset(tt.in); got != tt.want {
			t.Errorf("ClampOffset(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
