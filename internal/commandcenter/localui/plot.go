package localui

import (
	"fmt"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/i18n"
)

// The consumables plots are inline SVG drawn on the server: no script, no
// library, readable without either. This file computes their geometry;
// templates/consumables.html draws it.

// point is one value of a series at a time.
type point struct {
	T time.Time
	V float64
}

// series is one line of a plot.
type series struct {
	Name   string
	Points []point // in time order
}

// plot is the geometry of one chart with a 0–100 % scale.
type plot struct {
	Title         string
	Width, Height int
	Left, Top     int // the plotting area's corner
	Right, Bottom int
	Lines         []plotLine
	YTicks        []tick
	XTicks        []tick
	Empty         bool // no series has a point
}

// plotLine is one series as an SVG polyline.
type plotLine struct {
	Name   string
	Class  string // the colour class (c0…c5)
	Points string // "x,y x,y …"
	Last   string // the latest value in words, for the legend
}

// tick is a labelled position on an axis.
type tick struct {
	Pos   int
	Label string
	Class string // "first" and "last" labels end at the axis's ends, not past them
}

// Plot geometry.
const (
	plotWidth     = 640
	plotHeight    = 180
	plotLeft      = 44
	plotRight     = 628
	plotTop       = 10
	plotBottom    = 150
	plotMaxPoints = 320 // per series; more are thinned
	plotColours   = 6
)

// newPlot lays out ss over [from, to] on a 0–100 scale, its times written
// as readers of lang write them.
func newPlot(lang i18n.Lang, title string, from, to time.Time, ss []series) plot {
	p := plot{Title: title, Width: plotWidth, Height: plotHeight, Left: plotLeft, Top: plotTop, Right: plotRight, Bottom: plotBottom, Empty: true}
	span := to.Sub(from)
	if span <= 0 {
		span = time.Second
	}
	x := func(t time.Time) float64 {
		f := float64(t.Sub(from)) / float64(span)
		return float64(plotLeft) + min(max(f, 0), 1)*float64(plotRight-plotLeft)
	}
	y := func(v float64) float64 {
		return float64(plotBottom) - min(max(v, 0), 100)/100*float64(plotBottom-plotTop)
	}
	for v := 0; v <= 100; v += 25 {
		p.YTicks = append(p.YTicks, tick{Pos: int(y(float64(v))), Label: fmt.Sprint(v)})
	}
	for i := 0; i <= 4; i++ {
		t := from.Add(span * time.Duration(i) / 4)
		tk := tick{Pos: int(x(t)), Label: tickTime(lang, t.Local())}
		switch i {
		case 0:
			tk.Class = "first"
		case 4:
			tk.Class = "last"
		}
		p.XTicks = append(p.XTicks, tk)
	}
	for i, s := range ss {
		pts := thin(s.Points, plotMaxPoints)
		if len(pts) == 0 {
			continue
		}
		p.Empty = false
		var b strings.Builder
		for j, pt := range pts {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", x(pt.T), y(pt.V))
		}
		p.Lines = append(p.Lines, plotLine{
			Name: s.Name, Class: fmt.Sprintf("c%d", i%plotColours), Points: b.String(),
			Last: fmt.Sprintf("%.0f %%", pts[len(pts)-1].V),
		})
	}
	return p
}

// thin keeps at most n points of pts, evenly spaced, always the first and
// the last.
func thin(pts []point, n int) []point {
	if len(pts) <= n || n < 2 {
		return pts
	}
	out := make([]point, 0, n)
	for i := range n {
		out = append(out, pts[i*(len(pts)-1)/(n-1)])
	}
	return out
}

// tickTime writes a time axis label: "Jan 2 15:04" or "2. Jan. 15:04".
func tickTime(lang i18n.Lang, t time.Time) string {
	if lang == i18n.German {
		return t.Format("2. ") + lang.ShortMonth(t.Month()) + t.Format(" 15:04")
	}
	return t.Format("Jan 2 15:04")
}
