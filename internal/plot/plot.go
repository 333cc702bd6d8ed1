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
// width of its container, text with it, so what fits in the viewBox fits
// at any width. Each chart is drawn twice, wide for desktops and narrow
// for phones and narrow columns, and the stylesheet shows the one that
// suits the box's width (.plot-box): 360 px would shrink a wide chart's
// text to half its size.
const (
	wideWidth   = 640
	narrowWidth = 360
	edge        = 8   // the left and right margins of text
	maxPoints   = 400 // per series; more are thinned
	colours     = 6
)

// Font sizes in user units; the stylesheet (svg.plot text …) must use the
// same, since the layout measures text by them.
const (
	tickSize   = 11
	labelSize  = 12 // row labels and legend entries
	titleSize  = 13
	lineHeight = 1.4
)

// textWidth estimates the width of t set at size: 0.62 em a character is
// the width of a sans-serif's digits and most capitals, a little more
// than its average, so an estimate errs on the side of room.
func textWidth(t string, size float64) float64 {
	return 0.62 * size * float64(len([]rune(t)))
}

// leftMargin is where a plot area starts when its value axis is labelled
// with labels: right of the widest one, at least 40 units in.
func leftMargin(labels []string) float64 {
	w := 0.0
	for _, l := range labels {
		w = max(w, textWidth(l, tickSize))
	}
	return max(40, edge+w+6)
}

// wrap breaks t into lines of at most w units at size, between words; a
// word longer than a line gets a line of its own.
func wrap(t string, size, w float64) []string {
	var lines []string
	var cur string
	for _, word := range strings.Fields(t) {
		if cur != "" && textWidth(cur+" "+word, size) > w {
			lines = append(lines, cur)
			cur = ""
		}
		if cur == "" {
			cur = word
		} else {
			cur += " " + word
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// svg is a small writer of SVG elements with escaped text. The height is
// known only at the end, when legends and titles have been laid out.
type svg struct {
	b              strings.Builder
	width          float64
	title, summary string
}

// both draws a chart wide and narrow, in a box whose width picks one
// (a CSS container query).
func both(draw func(width float64) template.HTML) template.HTML {
	return `<div class="plot-box">` + draw(wideWidth) + draw(narrowWidth) + `</div>`
}

// open starts a chart: its title drawn in lines at the top; it returns
// the y below the title.
func (s *svg) open(title, summary string) float64 {
	s.title, s.summary = title, summary
	y := 4.0
	for _, l := range wrap(title, titleSize, s.width-2*edge) {
		y += titleSize * lineHeight
		s.text(edge, y-4, "title", "start", l)
	}
	return y + 6
}

func (s *svg) close(height float64) template.HTML {
	// Every text that went in was escaped by esc; numbers are formatted here.
	variant := "plot-wide"
	if s.width < wideWidth {
		variant = "plot-narrow"
	}
	return template.HTML(fmt.Sprintf(`<svg class="plot %s" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" preserveAspectRatio="xMidYMid meet">`,
		variant, s.width, math.Ceil(height), esc(s.title+": "+s.summary)) +
		fmt.Sprintf(`<title>%s</title><desc>%s</desc>`, esc(s.title), esc(s.summary)) +
		s.b.String() + `</svg>`)
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

// legend draws entries as swatches with labels from x0 at y, in rows
// that wrap before right, and returns the y below the last row.
func (s *svg) legend(x0, y float64, entries []legendEntry) float64 {
	if len(entries) == 0 {
		return y
	}
	row := labelSize * lineHeight
	x := x0
	y += row
	for _, e := range entries {
		w := 14 + textWidth(e.label, labelSize)
		if x > x0 && x+w > s.width-edge {
			x, y = x0, y+row
		}
		s.rect(x, y-10, 10, 10, "swatch "+e.class, "")
		s.text(x+14, y-1, "legend", "start", e.label)
		x += w + 16
	}
	return y + 6
}

type legendEntry struct{ class, label string }

// yTicks returns the values of ticks from lo to hi by step and their
// labels.
func yTicks(lo, hi, step float64, unit string) ([]float64, []string) {
	var vs []float64
	var ls []string
	for v := lo; v <= hi+step/2; v += step {
		vs = append(vs, v)
		ls = append(ls, Format(v, unit))
	}
	return vs, ls
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
	Empty       string // said where there is no data; "No data in this period" if empty
}

// SVG draws the chart.
func (c Lines) SVG() template.HTML { return both(c.draw) }

func (c Lines) draw(width float64) template.HTML {
	right := width - 12
	const plotH = 168
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
	ticks, labels := yTicks(lo, hi, step, c.Unit)
	left := leftMargin(labels)
	s := svg{width: width}
	top := s.open(c.Title, c.summary())
	bottom := top + plotH
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
	for i, v := range ticks {
		s.line(left, y(v), right, y(v), "grid")
		s.text(left-6, y(v)+4, "tick", "end", labels[i])
	}
	layout := "2 Jan"
	if span <= 48*time.Hour {
		layout = "2 Jan 15:04"
	}
	times := 4 // time labels, 2 on a narrow chart
	if width < wideWidth {
		times = 2
	}
	for i := 0; i <= times; i++ {
		t := from.Add(span * time.Duration(i) / time.Duration(times))
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case times:
			anchor = "end"
		}
		s.text(x(t), bottom+16, "tick", anchor, t.UTC().Format(layout))
	}
	if n == 0 {
		s.text((left+right)/2, (top+bottom)/2, "empty", "middle", orDefault(c.Empty, "No data in this period"))
	}
	var legend []legendEntry
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
			fmt.Fprintf(&s.b, `<circle cx="%.1f" cy="%.1f" r="3" class="dot %s"><title>%s</title></circle>`,
				x(pts[0].T), y(pts[0].V), class, esc(se.Name))
		} else {
			fmt.Fprintf(&s.b, `<polyline points="%s" class="line %s"><title>%s</title></polyline>`, b.String(), class, esc(se.Name))
		}
		legend = append(legend, legendEntry{class, se.Name + ": " + Format(se.Points[len(se.Points)-1].V, c.Unit)})
	}
	// The legend below the axis labels, in as many rows as it needs.
	return s.close(s.legend(edge, bottom+22, legend))
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
	Empty       string // said where there is no data; "No data in this period" if empty
}

// SVG draws the chart.
func (c Bars) SVG() template.HTML { return both(c.draw) }

func (c Bars) draw(width float64) template.HTML {
	right := width - 12
	const plotH = 168
	hi := 0.0
	lo := 0.0
	for _, v := range c.Values {
		hi, lo = max(hi, v), min(lo, v)
	}
	lo, hi, step := niceRange(lo, hi)
	ticks, labels := yTicks(lo, hi, step, c.Unit)
	left := leftMargin(labels)
	var sum []string
	for i, l := range c.Labels {
		if i < len(c.Values) {
			sum = append(sum, l+" "+Format(c.Values[i], c.Unit))
		}
	}
	s := svg{width: width}
	top := s.open(c.Title, strings.Join(sum, ", "))
	bottom := top + plotH
	y := func(v float64) float64 { return bottom - (v-lo)/(hi-lo)*(bottom-top) }
	for i, v := range ticks {
		s.line(left, y(v), right, y(v), "grid")
		s.text(left-6, y(v)+4, "tick", "end", labels[i])
	}
	n := min(len(c.Labels), len(c.Values))
	if n == 0 {
		s.text((left+right)/2, (top+bottom)/2, "empty", "middle", orDefault(c.Empty, "No data in this period"))
		return s.close(bottom + 8)
	}
	slot := (right - left) / float64(n)
	// Labels are as far apart as the widest of them and some room.
	lw := 0.0
	for _, l := range c.Labels[:n] {
		lw = max(lw, textWidth(l, tickSize))
	}
	every := max(1, int(math.Ceil((lw+8)/slot)))
	for i := range n {
		v := c.Values[i]
		x0 := left + float64(i)*slot + slot*0.1
		top, bot := y(max(v, 0)), y(min(v, 0))
		s.rect(x0, top, slot*0.8, bot-top, "bar c0", c.Labels[i]+": "+Format(v, c.Unit))
		if i%every == 0 {
			// The first and the last label may not reach past the edges.
			xc := min(max(x0+slot*0.4, edge+lw/2), width-edge-lw/2)
			s.text(xc, bottom+16, "tick", "middle", c.Labels[i])
		}
	}
	return s.close(bottom + 24)
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
func (c Bands) SVG() template.HTML { return both(c.draw) }

func (c Bands) draw(width float64) template.HTML {
	right := width - 12
	const rowH = 44
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
	// The label column is as wide as the widest label, up to 40 % of the
	// chart; longer labels wrap onto a second line.
	labelW := 0.0
	for _, r := range c.Rows {
		labelW = max(labelW, textWidth(r.Label, labelSize))
	}
	labelW = min(labelW, 0.4*width)
	x0 := edge + labelW + 12
	x := func(v float64) float64 { return x0 + (min(max(v, lo), hi)-lo)/(hi-lo)*(right-x0) }
	var sum []string
	for _, r := range c.Rows {
		t := fmt.Sprintf("%s: cohort median %s, middle half %s–%s", r.Label, Format(r.P50, c.Unit), Format(r.P25, c.Unit), Format(r.P75, c.Unit))
		if !math.IsNaN(r.You) {
			t += ", you " + Format(r.You, c.Unit)
		}
		sum = append(sum, t)
	}
	s := svg{width: width}
	top := s.open(c.Title, strings.Join(sum, "; "))
	axisY := top + rowH*float64(max(len(c.Rows), 1))
	ticks, labels := yTicks(lo, hi, step, c.Unit)
	// Every tick has its line, and as many as have room their label.
	lw := 0.0
	for _, l := range labels {
		lw = max(lw, textWidth(l, tickSize))
	}
	every := 1
	if len(ticks) > 1 {
		every = max(1, int(math.Ceil((lw+8)/(x(ticks[1])-x(ticks[0])))))
	}
	for i, v := range ticks {
		s.line(x(v), top, x(v), axisY, "grid")
		if i%every != 0 {
			continue
		}
		anchor := "middle"
		if i == len(ticks)-1 {
			anchor = "end"
		}
		s.text(x(v), axisY+16, "tick", anchor, labels[i])
	}
	for i, r := range c.Rows {
		yc := top + rowH*float64(i) + rowH/2
		lines := wrap(r.Label, labelSize, labelW)
		for k, l := range lines {
			s.text(edge, yc+4+labelSize*lineHeight*(float64(k)-float64(len(lines)-1)/2), "label", "start", l)
		}
		s.rect(x(r.P10), yc-10, x(r.P90)-x(r.P10), 20, "band-outer", "10th–90th percentile: "+Format(r.P10, c.Unit)+" – "+Format(r.P90, c.Unit))
		s.rect(x(r.P25), yc-10, x(r.P75)-x(r.P25), 20, "band-inner", "25th–75th percentile: "+Format(r.P25, c.Unit)+" – "+Format(r.P75, c.Unit))
		s.line(x(r.P50), yc-12, x(r.P50), yc+12, "median")
		if !math.IsNaN(r.You) {
			fmt.Fprintf(&s.b, `<path d="M%.1f %.1f l6 -10 h-12 z" class="you"><title>%s</title></path>`, x(r.You), yc-10, esc("You: "+Format(r.You, c.Unit)))
		}
	}
	return s.close(axisY + 24)
}

// Heatmap draws Values[row][col] as shaded cells, darker for larger
// values, e.g. weekdays × hours. A NaN value is a cell without data (no
// printer existed then, say): drawn apart, not as a value.
type Heatmap struct {
	Title, Unit string
	Rows, Cols  []string
	Values      [][]float64
	Missing     string // the legend's name of cells without data; "No data" if empty
}

// SVG draws the chart.
func (c Heatmap) SVG() template.HTML { return both(c.draw) }

func (c Heatmap) draw(width float64) template.HTML {
	right := width - 12
	const cellH, shades = 22, 5
	hi := 0.0
	missing := false
	value := func(i, j int) float64 {
		if i < len(c.Values) && j < len(c.Values[i]) {
			return c.Values[i][j]
		}
		return 0
	}
	for i := range c.Rows {
		for j := range c.Cols {
			if v := value(i, j); math.IsNaN(v) {
				missing = true
			} else {
				hi = max(hi, v)
			}
		}
	}
	labelW := 0.0
	for _, r := range c.Rows {
		labelW = max(labelW, textWidth(r, labelSize))
	}
	x0 := edge + labelW + 8
	cellW := (right - x0) / float64(max(len(c.Cols), 1))
	s := svg{width: width}
	top := s.open(c.Title, fmt.Sprintf("%d rows by %d columns, highest %s", len(c.Rows), len(c.Cols), Format(hi, c.Unit)))
	for i, r := range c.Rows {
		y := top + cellH*float64(i)
		s.text(edge, y+cellH/2+4, "label", "start", r)
		for j, col := range c.Cols {
			v := value(i, j)
			if math.IsNaN(v) {
				s.rect(x0+float64(j)*cellW+1, y+1, cellW-2, cellH-2, "heat none", r+" "+col+": "+c.missing())
				continue
			}
			shade := 0
			if hi > 0 && v > 0 {
				shade = 1 + int(math.Min(shades-1, math.Floor(v/hi*shades)))
			}
			s.rect(x0+float64(j)*cellW+1, y+1, cellW-2, cellH-2, fmt.Sprintf("heat h%d", shade), r+" "+col+": "+Format(v, c.Unit))
		}
	}
	cw := 0.0
	for _, col := range c.Cols {
		cw = max(cw, textWidth(col, tickSize))
	}
	every := max(1, int(math.Ceil((cw+4)/cellW)))
	bottom := top + cellH*float64(len(c.Rows))
	for j, col := range c.Cols {
		if j%every == 0 {
			s.text(x0+float64(j)*cellW+cellW/2, bottom+16, "tick", "middle", col)
		}
	}
	end := bottom + 22
	if missing {
		end = s.legend(x0, end, []legendEntry{{"heat none", c.missing()}})
	}
	return s.close(end)
}

func (c Heatmap) missing() string { return orDefault(c.Missing, "No data") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
