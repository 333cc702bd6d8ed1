package learn

import (
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

func TestBuildVolume(t *testing.T) {
	tests := []struct {
		size string
		want fleet.Vec3
	}{
		{"380x284x380 mm", fleet.Vec3{X: 380, Y: 284, Z: 380}},
		{"380 x 284 x 380", fleet.Vec3{X: 380, Y: 284, Z: 380}},
		{"380x284 mm", fleet.Vec3{}},
		{"380xabcx380 mm", fleet.Vec3{}},
		{"", fleet.Vec3{}},
	}
	for _, tt := range tests {
		if got := BuildVolume(tt.size); got != tt.want {
			t.Errorf("BuildVolume(%q) = %+v, want %+v", tt.size, got, tt.want)
		}
	}
}
