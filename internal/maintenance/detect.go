package maintenance

// stepDetector is a one-sided CUSUM on the drops of a visible condition
// (lamp intensity, filter life left) beyond their usual pace: a healthy
// part loses about the same each reading, one that announces its failure
// loses several points at once. The usual pace is an exponentially
// weighted mean of the drops; each drop beyond it and the allowance adds
// to the sum, a smaller one takes from it; the sum above the threshold is
// an alarm.
type stepDetector struct {
	last, pace, sum float64
	readings        int
}

const (
	stepAllowance = 0.5 // points per reading beyond the pace that are noise
	stepThreshold = 3.0 // points of excess loss that raise the alarm
	stepWeight    = 0.2 // weight of the newest drop in the pace
)

// add takes the next reading and reports whether the alarm is raised.
func (d *stepDetector) add(v float64) bool {
	d.readings++
	drop := d.last - v
	d.last = v
	switch d.readings {
	case 1:
		return false
	case 2:
		d.pace = max(drop, 0)
		return false
	}
	d.sum = max(0, d.sum+drop-d.pace-stepAllowance)
	d.pace += stepWeight * (max(drop, 0) - d.pace)
	return d.sum > stepThreshold
}
