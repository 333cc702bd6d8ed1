package maintenance

import (
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

func TestWatchFilter(t *testing.T) {
	w := NewWatch()
	obs := func(h int, life float64) Signal {
		t.Helper()
		at := t0.Add(time.Duration(h) * time.Hour)
		sigs := w.Observe(fleet.Record{Seq: 1, Kind: fleet.KindCounters, PrinterID: pid, Time: at,
			Counters: &fleet.Counters{FilterStatusPercent: life, PrintTimeSec: float64(h) * 3600, Time: at}})
		if len(sigs) != 1 || sigs[0].Kind != Filter {
			t.Fatalf("hour %d: signals %+v, want one for the filter", h, sigs)
		}
		return sigs[0]
	}
	for h, life := range []float64{60, 59.7, 59.4, 59.1, 58.8} {
		if s := obs(h, life); s.Holds {
			t.Fatalf("steady decline at hour %d: %+v", h, s)
		}
	}
	s := obs(5, 48)
	if !s.Holds || !strings.Contains(s.Evidence, "58.8 % → 48.0 %") && !strings.Contains(s.Evidence, "→ 48.0 %") {
		t.Fatalf("after a step of 10.8 points: %+v", s)
	}
	if again := obs(5, 48); again.Evidence != s.Evidence {
		t.Errorf("a replay changed the evidence: %q, was %q", again.Evidence, s.Evidence)
	}
	if later := obs(6, 47.7); !later.Holds || later.Evidence != s.Evidence {
		t.Errorf("the next reading: %+v, want the same evidence", later)
	}
	if s := obs(7, 100); s.Holds {
		t.Errorf("a new filter still degrading: %+v", s)
	}
	if sigs := w.Observe(fleet.Record{Seq: 2, Kind: fleet.KindStatus, PrinterID: pid, Time: t0}); sigs != nil {
		t.Errorf("a status record gave %+v", sigs)
	}
}
