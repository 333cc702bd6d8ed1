package maintenance

import "testing"

func TestStepDetector(t *testing.T) {
	tests := []struct {
		name     string
		readings []float64
		alarmAt  int // index of the first alarm; -1 for none
	}{
		{"steady decline", []float64{100, 99.9, 99.8, 99.7, 99.6, 99.5, 99.4}, -1},
		{"fast steady decline", []float64{100, 95, 90, 85, 80, 75, 70}, -1},
		{"idle then printing", []float64{90, 90, 90, 89.7, 89.4, 89.4, 89.1}, -1},
		{"noise", []float64{90, 90.3, 89.8, 90.1, 89.7, 90, 89.6}, -1},
		{"a step of eight points", []float64{90, 89.9, 89.8, 89.7, 81.7, 81.6}, 4},
		{"a step in two readings", []float64{90, 89.9, 89.8, 87.3, 84.8, 84.7}, 4},
		{"a rise (new part) is no alarm", []float64{70, 69.9, 100, 99.9}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d stepDetector
			got := -1
			for i, v := range tt.readings {
				if d.add(v) && got < 0 {
					got = i
				}
			}
			if got != tt.alarmAt {
				t.Errorf("first alarm at reading %d, want %d", got, tt.alarmAt)
			}
		})
	}
}
