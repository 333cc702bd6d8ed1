package commandcenter

import (
	"testing"
	"time"
)

func TestUpdatePolicyWindow(t *testing.T) {
	sat2 := UpdatePolicy{Mode: UpdateWindow, Weekday: time.Saturday, StartHour: 2, Hours: 4}
	sun22 := UpdatePolicy{Mode: UpdateWindow, Weekday: time.Sunday, StartHour: 22, Hours: 6}                      // into Monday
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, time.UTC) } // 28 Nov 2026 is a Saturday
	tests := []struct {
		p    UpdatePolicy
		t    time.Time
		want bool
	}{
		{sat2, at(28, 1, 59), false},
		{sat2, at(28, 2, 0), true},
		{sat2, at(28, 5, 59), true},
		{sat2, at(28, 6, 0), false},
		{sat2, at(27, 3, 0), false}, // Friday
		{sat2, at(21, 3, 0), true},  // the Saturday before
		{sun22, at(29, 21, 59), false},
		{sun22, at(29, 23, 0), true},
		{sun22, at(30, 3, 59), true}, // Monday morning, the window began Sunday
		{sun22, at(30, 4, 0), false},
	}
	for _, tt := range tests {
		if got := tt.p.InWindow(tt.t); got != tt.want {
			t.Errorf("%+v.InWindow(%s) = %v, want %v", tt.p, tt.t.Format("Mon 2 Jan 15:04"), got, tt.want)
		}
	}
	for _, bad := range []UpdatePolicy{
		{Mode: "sometimes", Hours: 1},
		{Mode: UpdateWindow, Weekday: 7, Hours: 1},
		{Mode: UpdateWindow, StartHour: 24, Hours: 1},
		{Mode: UpdateWindow, Hours: 0},
		{Mode: UpdateWindow, Hours: 25},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v is valid", bad)
		}
	}
}
