package plot

import (
	"encoding/xml"
	"html/template"
	"io"
	"math"
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
		t.Run(tt.name, func(t *testing.T) {
			got := elements(t, tt.svg)
			for el, want := range tt.count {
				if got[el] < want {
					t.Errorf("%d <%s>, want at least %d", got[el], el, want)
				}
			}
			if got["title"] < 1 || got["desc"] != 1 || !strings.Contains(string(tt.svg), `role="img"`) {
				t.Errorf("missing title, desc or role: %s", tt.svg)
			}
		})
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
