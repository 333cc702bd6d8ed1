package plot

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// elements parses svg as XML and counts its elements by name; a parse
// error fails the test.
func elements(t *testing.T, svg template.HTML) map[string]int {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	n := make(map[string]int)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			n[se.Name.Local]++
		}
	}
}

func TestChartsAreWellFormedAndAccessible(t *testing.T) {
	series := []Series{
		{Name: "Fusing <agent>", Points: []Point{{t0, 80}, {t0.Add(24 * time.Hour), 60}, {t0.Add(48 * time.Hour), 41}}},
		{Name: "Detailing & co", Points: []Point{{t0, 90}}},
		{Name: "Empty"},
	}
	tests := []struct {
		name  string
		svg   template.HTML
		count map[string]int // minimum counts
	}{
		{"lines", Lines{Title: "Agents", Unit: "%", YMax: 100, Series: series}.SVG(), map[string]int{"polyline": 1, "circle": 1}},
		{"lines auto", Lines{Title: "Auto", Series: series[:1]}.SVG(), map[string]int{"polyline": 1}},
		{"lines empty", Lines{Title: "None", From: t0, To: t0.Add(time.Hour)}.SVG(), map[string]int{"text": 1}},
		{"bars", Bars{Title: "Jobs", Labels: []string{"Mon", "Tue", "Wed"}, Values: []float64{3, 0, 7}}.SVG(), map[string]int{"rect": 3}},
		{"bars empty", Bars{Title: "Jobs"}.SVG(), map[string]int{"text": 1}},
		{"bands", Bands{Title: "Density", Unit: "%", Rows: []BandRow{
			{Label: "Packing density", P10: 5, P25: 8, P50: 10, P75: 12, P90: 15, You: 11},
			{Label: "No you", P10: 5, P25: 8, P50: 10, P75: 12, P90: 15, You: math.NaN()},
		}}.SVG(), map[string]int{"rect": 4, "path": 1}},
		{"heatmap", Heatmap{Title: "Usage", Unit: "h", Rows: []string{"Mon", "Tue"}, Cols: []string{"0", "1", "2"},
			Values: [][]float64{{0, 1, 2}, {3}}}.SVG(), map[string]int{"rect": 6}},
	}
	for _, tt := range tests {
		vs := variants(t, tt.svg)
		for i, v := range vs {
			t.Run(fmt.Sprintf("%s/%d", tt.name, i), func(t *testing.T) {
				got := elements(t, v)
				for el, want := range tt.count {
					if got[el] < want {
						t.Errorf("%d <%s>, want at least %d", got[el], el, want)
					}
				}
				if got["title"] < 1 || got["desc"] != 1 || !strings.Contains(string(v), `role="img"`) {
					t.Errorf("missing title, desc or role: %s", v)
				}
			})
		}
	}
}

func TestTextIsEscaped(t *testing.T) {
	svg := string(Lines{Title: `<script>alert(1)</script>`, Series: []Series{{Name: `"><b>`, Points: []Point{{t0, 1}}}}}.SVG())
	if strings.Contains(svg, "<script>") || strings.Contains(svg, `"><b>`) {
		t.Errorf("unescaped text in %s", svg)
	}
}

func TestHeatmapShades(t *testing.T) {
	svg := string(Heatmap{Rows: []string{"r"}, Cols: []string{"a", "b", "c"}, Values: [][]float64{{0, 5, 10}}}.SVG())
	for _, class := range []string{"heat h0", "heat h3", "heat h5"} {
		if !strings.Contains(svg, class) {
			t.Errorf("no %q in %s", class, svg)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{12.345, "%", "12.3 %"},
		{0.1234, "", "0.12"},
		{250, "kg", "250 kg"},
		{3, "", "3"},
		{math.NaN(), "%", "–"},
	}
	for _, tt := range tests {
		if got := Format(tt.v, tt.unit); got != tt.want {
			t.Errorf("Format(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func TestNiceRange(t *testing.T) {
	tests := []struct{ lo, hi, wantLo, wantHi, wantStep float64 }{
		{0, 100, 0, 100, 25},
		{0, 7, 0, 8, 2},
		{3, 3, 3, 4, 0.25},
		{-5, 12, -5, 15, 5},
	}
	for _, tt := range tests {
		lo, hi, step := niceRange(tt.lo, tt.hi)
		if lo != tt.wantLo || hi != tt.wantHi || step != tt.wantStep {
			t.Errorf("niceRange(%v, %v) = %v, %v, %v; want %v, %v, %v", tt.lo, tt.hi, lo, hi, step, tt.wantLo, tt.wantHi, tt.wantStep)
		}
	}
}

func TestThin(t *testing.T) {
	var pts []Point
	for i := range 1000 {
		pts = append(pts, Point{t0.Add(time.Duration(i) * time.Minute), float64(i)})
	}
	got := thin(pts, 10)
	if len(got) != 10 || got[0] != pts[0] || got[9] != pts[999] {
		t.Errorf("thin = %d points, first %v, last %v", len(got), got[0], got[len(got)-1])
	}
}

// variants splits a chart into its wide and its narrow drawing, and
// fails the test unless there are these two.
func variants(t *testing.T, svg template.HTML) []template.HTML {
	t.Helper()
	inner, ok := strings.CutPrefix(string(svg), `<div class="plot-box">`)
	inner, ok2 := strings.CutSuffix(inner, `</div>`)
	parts := strings.SplitAfter(inner, "</svg>")
	if !ok || !ok2 || len(parts) != 3 || parts[2] != "" || !strings.Contains(parts[0], `class="plot plot-wide"`) ||
		!strings.Contains(parts[1], `class="plot plot-narrow"`) {
		t.Fatalf("want a wide and a narrow drawing, got %s", svg)
	}
	return []template.HTML{template.HTML(parts[0]), template.HTML(parts[1])}
}

// textBox is a text element of a chart and where it is estimated to lie.
type textBox struct {
	class, text        string
	x0, x1, top, below float64
}

// layout parses svg and returns its viewBox's size, its texts' estimated
// boxes and the smallest x of the rects of class heat (a heat map's
// first column).
func layout(t *testing.T, svg template.HTML) (w, h float64, texts []textBox, cells float64) {
	t.Helper()
	size := map[string]float64{"tick": tickSize, "label": labelSize, "legend": labelSize, "title": titleSize, "empty": 14}
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	cells = math.Inf(1)
	var cur *textBox
	var anchor string
	attr := func(se xml.StartElement, name string) string {
		for _, a := range se.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	num := func(s string) float64 {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("number %q: %v", s, err)
		}
		return v
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return w, h, texts, cells
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "svg":
				f := strings.Fields(attr(tok, "viewBox"))
				w, h = num(f[2]), num(f[3])
			case "text":
				cur = &textBox{class: attr(tok, "class")}
				anchor = attr(tok, "text-anchor")
				cur.x0, cur.below = num(attr(tok, "x")), num(attr(tok, "y"))
				if _, ok := size[cur.class]; !ok {
					t.Fatalf("text of unknown class %q", cur.class)
				}
			case "rect":
				if strings.HasPrefix(attr(tok, "class"), "heat ") {
					cells = min(cells, num(attr(tok, "x")))
				}
			}
		case xml.CharData:
			if cur != nil {
				cur.text += string(tok)
			}
		case xml.EndElement:
			if tok.Name.Local == "text" && cur != nil {
				sz := size[cur.class]
				tw := textWidth(cur.text, sz)
				switch anchor {
				case "middle":
					cur.x0 -= tw / 2
				case "end":
					cur.x0 -= tw
				}
				cur.x1 = cur.x0 + tw
				cur.top = cur.below - sz
				cur.below += 0.25 * sz // descenders
				texts = append(texts, *cur)
				cur = nil
			}
		}
	}
}

// Every text of every chart lies inside the viewBox, by the same estimate
// of its width the layout uses; long axis labels, many legend entries,
// long titles and long row labels included. Each case failed before
// margins, legends and titles were laid out from the text they hold.
func TestTextFitsInTheChart(t *testing.T) {
	agents := []string{"cyan", "magenta", "yellow", "black", "fusing agent", "detailing agent"}
	var many []Series
	for i, a := range agents {
		many = append(many, Series{Name: a, Points: []Point{{t0, 90 - float64(i)}, {t0.Add(time.Hour), 80 - float64(i)}}})
	}
	area := []Series{{Name: "Fused area", Points: []Point{{t0, 19500}, {t0.Add(time.Hour), 20000}}}}
	days := []string{"Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"}
	var hours []string
	for h := range 24 {
		hours = append(hours, fmt.Sprintf("%02d", h))
	}
	long := "Leerlaufzeit: Anteil der Druckerzeit nach Wochentag und Stunde über alle Drucker aller Standorte"
	tests := []struct {
		name   string
		svg    template.HTML
		legend []string // names each legend must hold
	}{
		{"20,000 mm² on the value axis", Lines{Title: "Fused area per layer", Unit: "mm²", Series: area}.SVG(), []string{"Fused area"}},
		{"six agents in the legend", Lines{Title: "Agents", Unit: "%", YMax: 100, Series: many}.SVG(), agents},
		{"long title", Lines{Title: long, Unit: "%", Series: many[:1]}.SVG(), []string{"cyan"}},
		{"large bars", Bars{Title: "Parts", Unit: "/day", Labels: days, Values: []float64{12000, 3, 0, 7, 1, 0, 2}}.SVG(), nil},
		{"many bars", Bars{Title: "Jobs", Labels: hours, Values: make([]float64, 24)}.SVG(), nil},
		{"bands with long labels", Bands{Title: long, Unit: "/day", Rows: []BandRow{
			{Label: "Erstausbeute (first-time-right rate) der geprüften Teile", P10: 5, P25: 8, P50: 10, P75: 12, P90: 1500, You: 11},
		}}.SVG(), nil},
		{"heat map of German weekdays", Heatmap{Title: long, Unit: "%", Rows: days, Cols: hours,
			Values: [][]float64{{math.NaN(), 100, 50}}}.SVG(), []string{"No data"}},
	}
	for _, tt := range tests {
		for i, v := range variants(t, tt.svg) {
			t.Run(fmt.Sprintf("%s/%s", tt.name, []string{"wide", "narrow"}[i]), func(t *testing.T) {
				w, h, texts, cells := layout(t, v)
				var titles int
				for _, b := range texts {
					if b.x0 < 0 || b.x1 > w || b.top < 0 || b.below > h {
						t.Errorf("%s %q at [%.1f, %.1f]×[%.1f, %.1f] leaves the viewBox %.0f×%.0f", b.class, b.text, b.x0, b.x1, b.top, b.below, w, h)
					}
					if b.class == "label" && b.x1 > cells {
						t.Errorf("row label %q reaches %.1f, under the cells from %.1f", b.text, b.x1, cells)
					}
					if b.class == "title" {
						titles++
					}
				}
				if titles == 0 {
					t.Errorf("no visible title")
				}
				// Labels on one line do not run into each other.
				for i, a := range texts {
					for _, b := range texts[i+1:] {
						if a.below == b.below && a.class == b.class && a.x0 < b.x1 && b.x0 < a.x1 {
							t.Errorf("%s %q and %q overlap", a.class, a.text, b.text)
						}
					}
				}
				for _, name := range tt.legend {
					found := false
					for _, b := range texts {
						found = found || b.class == "legend" && strings.HasPrefix(b.text, name)
					}
					if !found {
						t.Errorf("legend lacks %q", name)
					}
				}
			})
		}
	}
}

// Cells without data are drawn as such, not as the lowest shade: hours
// before any printer existed are unknown, not idle.
func TestHeatmapMissingCells(t *testing.T) {
	svg := string(Heatmap{Title: "Idle", Unit: "%", Rows: []string{"Monday"}, Cols: []string{"0", "1"},
		Values: [][]float64{{math.NaN(), 40}}, Missing: "Kein Drucker"}.SVG())
	if got := strings.Count(svg, `class="heat none"`); got != 2 {
		t.Errorf("%d cells without data, want 1 in each drawing: %s", got, svg)
	}
	if !strings.Contains(svg, "Monday 0: Kein Drucker") || strings.Contains(svg, "NaN") {
		t.Errorf("the missing cell is not named as such: %s", svg)
	}
	if !strings.Contains(svg, "highest 40 %") {
		t.Errorf("the highest value counts a missing cell: %s", svg)
	}
}
