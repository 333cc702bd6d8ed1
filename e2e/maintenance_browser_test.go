package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The maintenance forecasts on the real path: virtual printers serve their
// device API, the Command Center polls them and uploads to the cloud, the
// cloud stores the records, learns the printhead life model from them and
// forecasts every installed printhead on the Maintenance page.
func TestMaintenanceOnTheRealPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser")
	}
	t.Parallel()
	ctx := browser(t)
	// Ninety days of past: each printer wears out a printhead or two.
	demo := startDemo(t, buildBinary(t), t.TempDir(), "-printers", "4", "-history", "90", "-speed", "600")
	b := &tab{t: t, ctx: ctx, dir: artefactDir(t)}
	b.logIn(demo)
	b.openUntil("the printhead model learned from the fleet", "/maintenance",
		`(document.querySelector('#maint-models tr[data-kind="printhead"]')?.textContent || '').includes('Weibull')`, 5*time.Minute)
	model := read[string](b, "the printhead model", `document.querySelector('#maint-models tr[data-kind="printhead"]').textContent`)
	var shape, scale float64
	if _, err := fmt.Sscanf(model[strings.Index(model, "shape"):], "shape %f, scale %f h", &shape, &scale); err != nil {
		t.Fatalf("printhead model %q: %v", model, err)
	}
	// The printers draw printhead lives from a Weibull of shape 2 and
	// scale 450 h; a few dozen failures pin it down roughly.
	if shape < 1.2 || shape > 3.5 || scale < 300 || scale > 650 {
		t.Errorf("printhead model shape %.2f scale %.0f h: far from the printers' hidden 2 and 450 h", shape, scale)
	}
	t.Logf("printhead model learned on the real path: %s", strings.Join(strings.Fields(model), " "))
	heads := read[int](b, "printhead forecasts", `document.querySelectorAll('#maint-calendar tr[data-kind="printhead"]').length`)
	if heads != 4*6 {
		t.Errorf("%d printhead forecasts, want 6 for each of 4 printers", heads)
	}
	banded := read[int](b, "forecasts with a band",
		`[...document.querySelectorAll('#maint-calendar tr[data-kind="printhead"]')].filter(r => r.textContent.includes('80 % band')).length`)
	if banded == 0 {
		t.Error("no printhead forecast gives a replacement date with its 80 % band")
	}
}
