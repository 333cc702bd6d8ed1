package fleetquery

import (
	"errors"
	"time"
)

// MaxPoints bounds how many snapshots one trend read returns.
const MaxPoints = 2000

// Trend splits [from, to) into at most points equal spans for a read that
// keeps the newest snapshot of each span: what a plot of the period can
// show, however often snapshots arrive. It returns the first span's start
// and the span width in Unix nanoseconds and the number of spans; a
// zero bound, an empty range or points outside 1..MaxPoints is an error.
func Trend(from, to time.Time, points int) (lo, width int64, n int, err error) {
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return 0, 0, 0, errors.New("trend: want a time range with from before to")
	}
	if points < 1 || points > MaxPoints {
		return 0, 0, 0, errors.New("trend: want 1 to 2000 points")
	}
	lo, hi := Bounds(from, to)
	width = (hi - lo + int64(points) - 1) / int64(points) // ceil: the spans cover [lo, hi)
	n = int((hi - lo + width - 1) / width)
	return lo, width, n, nil
}
