package localui

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/i18n"
)

func TestNewPlot(t *testing.T) {
	from, to := t0, t0.Add(4*time.Hour)
	p := newPlot(i18n.English, "Agent (%)", from, to, []series{
		{Name: "fusing", Points: []point{{from, 100}, {from.Add(2 * time.Hour), 50}, {to, 0}}},
		{Name: "none"},
		{Name: "clamped", Points: []point{{from.Add(-time.Hour), 150}, {to.Add(time.Hour), -5}}},
	})
	if p.Empty || len(p.Lines) != 2 {
		t.Fatalf("plot = %+v, want two lines", p)
	}
	// x from 44 to 628, y from 150 (0 %) to 10 (100 %).
	want := []plotLine{
		{Name: "fusing", Class: "c0", Points: "44.0,10.0 336.0,80.0 628.0,150.0", Last: "0 %"},
		{Name: "clamped", Class: "c2", Points: "44.0,10.0 628.0,150.0", Last: "-5 %"},
	}
	if diff := cmp.Diff(want, p.Lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if len(p.YTicks) != 5 || p.YTicks[0] != (tick{Pos: 150, Label: "0"}) || p.YTicks[4] != (tick{Pos: 10, Label: "100"}) {
		t.Errorf("y ticks = %+v", p.YTicks)
	}
	if len(p.XTicks) != 5 || p.XTicks[0].Pos != plotLeft || p.XTicks[4].Pos != plotRight {
		t.Errorf("x ticks = %+v", p.XTicks)
	}
	// The labels at the ends start and end there: centred, the last one
	// would reach past the viewBox and be cut off.
	if len(p.XTicks) == 5 && (p.XTicks[0].Class != "first" || p.XTicks[4].Class != "last" || p.XTicks[2].Class != "") {
		t.Errorf("x tick classes = %q, %q, %q; want first, none, last", p.XTicks[0].Class, p.XTicks[2].Class, p.XTicks[4].Class)
	}

	if e := newPlot(i18n.English, "empty", to, from, nil); !e.Empty || len(e.Lines) != 0 {
		t.Errorf("plot of nothing (and a backwards range) = %+v, want empty", e)
	}
}

func TestThin(t *testing.T) {
	var pts []point
	for i := range 1000 {
		pts = append(pts, point{t0.Add(time.Duration(i) * time.Second), float64(i)})
	}
	got := thin(pts, 5)
	var vs []float64
	for _, p := range got {
		vs = append(vs, p.V)
	}
	if diff := cmp.Diff([]float64{0, 249, 499, 749, 999}, vs); diff != "" {
		t.Errorf("thin (-want +got):\n%s", diff)
	}
	if got := thin(pts[:3], 5); len(got) != 3 {
		t.Errorf("thin of 3 points to 5 = %d points", len(got))
	}
	long := newPlot(i18n.English, "long", t0, t0.Add(1000*time.Second), []series{{Name: "v", Points: pts}})
	if n := strings.Count(long.Lines[0].Points, " ") + 1; n != plotMaxPoints {
		t.Errorf("a plot of 1000 points draws %d, want %d", n, plotMaxPoints)
	}
}
