package plot

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Point is one value of a series at a time.
type Point struct {
	T time.Time
	V float64
}

// Series is one line of a line chart, its points in time order.
type Series struct {
	Name   string
	Points []Point
}

// Geometry shared by the charts, in SVG user units; the SVG scales to the
// width of its container.
const (
	width       = 640
	left        = 56
	right       = 628
	top         = 12
	maxPoints   = 400 // per series; more are thinned
	colours     = 6
	labelHeight = 18
)

// svg is a small writer of SVG elements with escaped text.
type svg struct{ b strings.Builder }

func (s *svg) open(title, summary string, height int) {
	fmt.Fprintf(&s.b, `<svg class="plot" viewBox="0 0 %d %d" role="img" aria-label="%s" preserveAspectRatio="xMidYMid meet">`,
		width, height, esc(title+": "+summary))
	fmt.Fprintf(&s.b, `<title>%s</title><desc>%s</desc>`, esc(title), esc(summary))
}

func (s *svg) close() template.HTML {
	s.b.WriteString(`</svg>`)
	// Every text that went in was escaped by esc; numbers are formatted here.
	return template.HTML(s.b.String())
}

func (s *svg) text(x, y float64, class, anchor, t string) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" class="%s" text-anchor="%s">%s</text>`, x, y, class, anchor, esc(t))
}

func (s *svg) line(x1, y1, x2, y2 float64, class string) {
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="%s"/>`, x1, y1, x2, y2, class)
}

func (s *svg) rect(x, y, w, h float64, class, tip string) {
	fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s">`, x, y, max(w, 0), max(h, 0), class)
	if tip != "" {
		fmt.Fprintf(&s.b, `<title>%s</title>`, esc(tip))
	}
	s.b.WriteString(`</rect>`)
}

func esc(s string) string { return html.EscapeString(s) }

// Format shows v with a precision that suits its size and the unit.
func Format(v float64, unit string) string {
	var n string
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case a >= 100 || a == math.Trunc(a):
		n = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		n = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		n = strconv.FormatFloat(v, 'f', 2, 64)
	}
	switch unit {
	case "":
		return n
	case "%":
		return n + " %"
	}
	return n + " " + unit
}

// niceRange widens [lo, hi] to round tick values and returns the tick step.
func niceRange(lo, hi float64) (float64, float64, float64) {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return math.Floor(lo/step) * step, math.Ceil(hi/step) * step, step
}

// Lines is a line chart of series over [From, To]. YMin and YMax fix the
// value axis; both zero scale it to the data (from zero when all values
// are positive).
type Lines struct {
	Title, Unit string
	From, To    time.Time
	YMin, YMax  float64
	Series      []Series
}

// SVG draws the chart.
func (c Lines) SVG() template.HTML {
	const height, bottom = 220, 180
	from, to := c.From, c.To
	lo, hi := c.YMin, c.YMax
	auto := lo == 0 && hi == 0
	n := 0
	if auto {
		lo, hi = math.Inf(1), math.Inf(-1)
	}
	for _, s := range c.Series {
		for _, p := range s.Points {
			n++
			if auto {
				lo, hi = min(lo, p.V), max(hi, p.V)
			}
			if from.IsZero() || p.T.Before(from) {
				from = p.T
			}
			if to.IsZero() || p.T.After(to) {
				to = p.T
			}
		}
	}
	if auto {
		if n == 0 {
			lo, hi = 0, 1
		}
		if lo > 0 {
			lo = 0
		}
	}
	lo, hi, step := niceRange(lo, hi)
	span := to.Sub(from)
	if span <= 0 {
		span = time.Second
	}
	x := func(t time.Time) float64 {
		f := float64(t.Sub(from)) / float64(span)
		return left + min(max(f, 0), 1)*(right-left)
	}
	y := func(v float64) float64 {
		return bottom - (min(max(v, lo), hi)-lo)/(hi-lo)*(bottom-top)
	}
	var s svg
	s.open(c.Title, c.summary(), height)
	for v := lo; v <= hi+step/2; v += step {
		s.line(left, y(v), right, y(v), "grid")
		s.text(left-6, y(v)+4, "tick", "end", Format(v, c.Unit))
	}
	layout := "2 Jan"
	if span <= 48*time.Hour {
		layout = "2 Jan 15:04"
	}
	for i := 0; i <= 4; i++ {
		t := from.Add(span * time.Duration(i) / 4)
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case 4:
			anchor = "end"
		}
		s.text(x(t), bottom+16, "tick", anchor, t.UTC().Format(layout))
	}
	if n == 0 {
		s.text((left+right)/2, (top+bottom)/2, "empty", "middle", "No data in this period")
	}
	for i, se := range c.Series {
		pts := thin(se.Points, maxPoints)
		if len(pts) == 0 {
			continue
		}
		var b strings.Builder
		for j, p := range pts {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", x(p.T), y(p.V))
		}
		class := fmt.Sprintf("c%d", i%colours)
		if len(pts) == 1 {
			fmt.Fprintf(&s.b, `<circle cx="%.1f" cy="%.1f" r="3" class="dot %s"/>`, x(pts[0].T), y(pts[0].V), class)
		} else {
			fmt.Fprintf(&s.b, `<polyline points="%s" class="line %s"/>`, b.String(), class)
		}
	}
	// Legend below the axis labels.
	lx := float64(left)
	for i, se := range c.Series {
		if len(se.Points) == 0 {
			continue
		}
		class := fmt.Sprintf("c%d", i%colours)
		s.rect(lx, height-14, 10, 10, "swatch "+class, "")
		label := se.Name + ": " + Format(se.Points[len(se.Points)-1].V, c.Unit)
		s.text(lx+14, height-5, "legend", "start", label)
		lx += 24 + 7*float64(len([]rune(label)))
	}
	return s.close()
}

func (c Lines) summary() string {
	var parts []string
	for _, s := range c.Series {
		if len(s.Points) == 0 {
			parts = append(parts, s.Name+": no data")
			continue
		}
		lo, hi := s.Points[0].V, s.Points[0].V
		for _, p := range s.Points {
			lo, hi = min(lo, p.V), max(hi, p.V)
		}
		parts = append(parts, fmt.Sprintf("%s from %s to %s, latest %s", s.Name,
			Format(lo, c.Unit), Format(hi, c.Unit), Format(s.Points[len(s.Points)-1].V, c.Unit)))
	}
	if len(parts) == 0 {
		return "no data"
	}
	return strings.Join(parts, "; ")
}

// thin keeps at most n points of pts, evenly spaced, always the first and
// the last.
func thin(pts []Point, n int) []Point {
	if len(pts) <= n || n < 2 {
		return pts
	}
	out := make([]Point, 0, n)
	for i := range n {
		out = append(out, pts[i*(len(pts)-1)/(n-1)])
	}
	return out
}

// Bars is a bar chart with one bar per label.
type Bars struct {
	Title, Unit string
	Labels      []string
	Values      []float64
}

// SVG draws the chart.
func (c Bars) SVG() template.HTML {
	const height, bottom = 220, 180
	hi := 0.0
	lo := 0.0
	for _, v := range c.Values {
		hi, lo = max(hi, v), min(lo, v)
	}
	lo, hi, step := niceRange(lo, hi)
	y := func(v float64) float64 { return bottom - (v-lo)/(hi-lo)*(bottom-top) }
	var s svg
	var sum []string
	for i, l := range c.Labels {
		if i < len(c.Values) {
			sum = append(sum, l+" "+Format(c.Values[i], c.Unit))
		}
	}
	s.open(c.Title, strings.Join(sum, ", "), height)
	for v := lo; v <= hi+step/2; v += step {
		s.line(left, y(v), right, y(v), "grid")
		s.text(left-6, y(v)+4, "tick", "end", Format(v, c.Unit))
	}
	n := min(len(c.Labels), len(c.Values))
	if n == 0 {
		s.text((left+right)/2, (top+bottom)/2, "empty", "middle", "No data in this period")
		return s.close()
	}
	slot := float64(right-left) / float64(n)
	every := max(1, int(math.Ceil(float64(n)*40/float64(right-left)))) // labels at least 40 units apart
	for i := range n {
		v := c.Values[i]
		x0 := left + float64(i)*slot + slot*0.1
		top, bot := y(max(v, 0)), y(min(v, 0))
		s.rect(x0, top, slot*0.8, bot-top, "bar c0", c.Labels[i]+": "+Format(v, c.Unit))
		if i%every == 0 {
			s.text(x0+slot*0.4, bottom+16, "tick", "middle", c.Labels[i])
		}
	}
	return s.close()
}

// BandRow is one row of a percentile band chart: where the cohort's
// percentiles lie and where "you" are. A NaN You draws no marker.
type BandRow struct {
	Label                   string
	P10, P25, P50, P75, P90 float64
	You                     float64
}

// Bands draws one horizontal percentile band per row: the 10th–90th
// percentile range light, the 25th–75th dark, the median as a line and
// You as a marker.
type Bands struct {
	Title, Unit string
	Rows        []BandRow
}

// SVG draws the chart.
func (c Bands) SVG() template.HTML {
	const rowH, labelW = 44, 150
	height := top + rowH*max(len(c.Rows), 1) + 28
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range c.Rows {
		for _, v := range []float64{r.P10, r.P90, r.You} {
			if !math.IsNaN(v) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if len(c.Rows) == 0 {
		lo, hi = 0, 1
	}
	lo = min(lo, 0)
	lo, hi, step := niceRange(lo, hi)
	x0 := float64(left + labelW)
	x := func(v float64) float64 { return x0 + (min(max(v, lo), hi)-lo)/(hi-lo)*(right-x0) }
	var sum []string
	for _, r := range c.Rows {
		t := fmt.Sprintf("%s: cohort median %s, middle half %s–%s", r.Label, Format(r.P50, c.Unit), Format(r.P25, c.Unit), Format(r.P75, c.Unit))
		if !math.IsNaN(r.You) {
			t += ", you " + Format(r.You, c.Unit)
		}
		sum = append(sum, t)
	}
	var s svg
	s.open(c.Title, strings.Join(sum, "; "), height)
	axisY := float64(top + rowH*max(len(c.Rows), 1))
	for v := lo; v <= hi+step/2; v += step {
		s.line(x(v), top, x(v), axisY, "grid")
		s.text(x(v), axisY+16, "tick", "middle", Format(v, c.Unit))
	}
	for i, r := range c.Rows {
		yc := float64(top + rowH*i + rowH/2)
		s.text(left-44, yc+4, "label", "start", r.Label)
		s.rect(x(r.P10), yc-10, x(r.P90)-x(r.P10), 20, "band-outer", "10th–90th percentile: "+Format(r.P10, c.Unit)+" – "+Format(r.P90, c.Unit))
		s.rect(x(r.P25), yc-10, x(r.P75)-x(r.P25), 20, "band-inner", "25th–75th percentile: "+Format(r.P25, c.Unit)+" – "+Format(r.P75, c.Unit))
		s.line(x(r.P50), yc-12, x(r.P50), yc+12, "median")
		if !math.IsNaN(r.You) {
			fmt.Fprintf(&s.b, `<path d="M%.1f %.1f l6 -10 h-12 z" class="you"><title>%s</title></path>`, x(r.You), yc-10, esc("You: "+Format(r.You, c.Unit)))
		}
	}
	return s.close()
}

// Heatmap draws Values[row][col] as shaded cells, darker for larger
// values, e.g. weekdays × hours.
type Heatmap struct {
	Title, Unit string
	Rows, Cols  []string
	Values      [][]float64
}

// SVG draws the chart.
func (c Heatmap) SVG() template.HTML {
	const cellH, labelW, shades = 22, 40, 5
	height := top + cellH*max(len(c.Rows), 1) + 24
	hi := 0.0
	for _, row := range c.Values {
		for _, v := range row {
			hi = max(hi, v)
		}
	}
	x0 := float64(left - 44 + labelW)
	cellW := (float64(right) - x0) / float64(max(len(c.Cols), 1))
	var s svg
	s.open(c.Title, fmt.Sprintf("%d rows by %d columns, highest %s", len(c.Rows), len(c.Cols), Format(hi, c.Unit)), height)
	for i, r := range c.Rows {
		y := float64(top + cellH*i)
		s.text(left-44, y+cellH/2+4, "label", "start", r)
		for j, col := range c.Cols {
			v := 0.0
			if i < len(c.Values) && j < len(c.Values[i]) {
				v = c.Values[i][j]
			}
			shade := 0
			if hi > 0 && v > 0 {
				shade = 1 + int(math.Min(shades-1, math.Floor(v/hi*shades)))
			}
			s.rect(x0+float64(j)*cellW+1, y+1, cellW-2, cellH-2, fmt.Sprintf("heat h%d", shade), r+" "+col+": "+Format(v, c.Unit))
		}
	}
	every := max(1, int(math.Ceil(float64(len(c.Cols))*28/(float64(right)-x0))))
	for j, col := range c.Cols {
		if j%every == 0 {
			s.text(x0+float64(j)*cellW+cellW/2, float64(top+cellH*len(c.Rows))+16, "tick", "middle", col)
		}
	}
	return s.close()
}
