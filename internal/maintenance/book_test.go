package maintenance_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/maintenance"
)

// counting is a HistoryReader that counts the rows it returns, and fails
// when told to.
type counting struct {
	history
	rows int
	fail error
}

func (c *counting) CountersHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Counters, error) {
	if c.fail != nil {
		return nil, c.fail
	}
	out, err := c.history.CountersHistory(ctx, org, p, from, to)
	c.rows += len(out)
	return out, err
}

func (c *counting) ConsumablesHistory(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time) ([]fleet.Consumables, error) {
	out, err := c.history.ConsumablesHistory(ctx, org, p, from, to)
	c.rows += len(out)
	return out, err
}

func (c *counting) Events(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, limit int) ([]fleet.Event, error) {
	out, err := c.history.Events(ctx, org, p, from, to, limit)
	c.rows += len(out)
	return out, err
}

const bookPrinter = fleet.PrinterID("p1")

var bookStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// addHours appends hourly counters and consumables of a printer printing
// 10 h a day, its head replaced every 40 days, from hour from to hour to.
func (h history) addHours(from, to int) {
	for i := from; i < to; i++ {
		at := bookStart.Add(time.Duration(i) * time.Hour)
		used := float64(i) * 10 / 24
		head := fleet.Printhead{Slot: 1, SerialNumber: fmt.Sprintf("H%d", i/(40*24)), UsageHours: used - float64(i/(40*24))*400, Status: "ok", Type: "fusing/detailing"}
		h[bookPrinter] = append(h[bookPrinter],
			fleet.Record{Kind: fleet.KindCounters, PrinterID: bookPrinter, Time: at, Counters: &fleet.Counters{PrintTimeSec: used * 3600, FilterStatusPercent: 90, Time: at}},
			fleet.Record{Kind: fleet.KindConsumables, PrinterID: bookPrinter, Time: at, Consumables: &fleet.Consumables{Time: at, Printheads: []fleet.Printhead{head}}})
		if i%(40*24) == 40*24-2 {
			h[bookPrinter] = append(h[bookPrinter], fleet.Record{Kind: fleet.KindEvent, PrinterID: bookPrinter, Time: at,
				Event: &fleet.Event{Code: "PRINTHEAD_FAILED", Severity: fleet.SeverityError, Time: at}})
		}
	}
}

// TestBookReadsOnlyNewRecords keeps a printer's tracker in a book over 30
// and over 300 days of history: the first request reads it all, the next,
// an hour later, only the records of the last two hours (the hour to
// settle and the new one) whatever the history's length, and its
// forecasts are those of a fresh replay of the whole window.
func TestBookReadsOnlyNewRecords(t *testing.T) {
	fc := &maintenance.Forecaster{Models: map[maintenance.Kind]maintenance.Model{
		maintenance.Printhead: {Kind: maintenance.Printhead, Fitted: true, Shape: 2, Scale: 450}}}
	read := map[int]int{} // rows the second request read, by days of history
	defer func() {
		if read[30] != read[300] {
			t.Errorf("second request read %d rows over 30 days, %d over 300: want the same", read[30], read[300])
		}
	}()
	for _, days := range []int{30, 300} {
		t.Run(fmt.Sprint(days, " days"), func(t *testing.T) {
			h := &counting{history: history{}}
			h.addHours(0, days*24)
			b := maintenance.NewBook(h, maintenance.BookOptions{})
			now := bookStart.Add(time.Duration(days*24-1) * time.Hour)
			view := func(now time.Time) []maintenance.Forecast {
				t.Helper()
				var got []maintenance.Forecast
				if err := b.View(t.Context(), "o", bookPrinter, now, func(tr *maintenance.Tracker) { got = fc.Forecasts(tr, bookPrinter, now) }); err != nil {
					t.Fatal(err)
				}
				return got
			}
			view(now)
			if h.rows < 2*days*24 {
				t.Fatalf("first request read %d rows, want the whole history", h.rows)
			}
			h.addHours(days*24, days*24+1)
			h.rows = 0
			now = now.Add(time.Hour)
			got := view(now)
			read[days] = h.rows
			if h.rows == 0 || h.rows > 3*2 {
				t.Errorf("second request read %d rows, want at most three hours' 2 each", h.rows)
			}
			fresh := maintenance.NewTracker()
			if err := maintenance.Replay(t.Context(), h.history, fresh, "o", bookPrinter, now.Add(-365*24*time.Hour), now.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fc.Forecasts(fresh, bookPrinter, now), got); diff != "" {
				t.Errorf("book's forecasts differ from a fresh replay (-fresh +book):\n%s", diff)
			}
		})
	}
}

// TestBookRebuilds: a record stored late but within the hour to settle
// is taken in at once; one stored later than that, at the next rebuild; a
// failed read is returned and the next request builds the tracker anew.
func TestBookRebuilds(t *testing.T) {
	h := &counting{history: history{}}
	h.addHours(0, 48)
	b := maintenance.NewBook(h, maintenance.BookOptions{Rebuild: 6 * time.Hour, Settle: time.Hour})
	now := bookStart.Add(47 * time.Hour)
	// recoveries returns the filter's minor symptoms.
	recoveries := func(now time.Time) int {
		t.Helper()
		var n int
		if err := b.View(t.Context(), "o", bookPrinter, now, func(tr *maintenance.Tracker) {
			for _, in := range tr.Installed(bookPrinter, now) {
				if in.Kind == maintenance.Filter {
					n = in.Recoveries
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// A late airflow deviation, its time inside or outside the hour to
	// settle.
	late := func(at time.Time) {
		h.history[bookPrinter] = append(h.history[bookPrinter], fleet.Record{Kind: fleet.KindEvent, PrinterID: bookPrinter, Time: at,
			Event: &fleet.Event{Code: "FILTER_AIRFLOW_DEVIATION", Severity: fleet.SeverityInfo, Time: at}})
	}
	if got := recoveries(now); got != 0 {
		t.Fatalf("filter recoveries %d, want none yet", got)
	}
	late(now.Add(-30 * time.Minute))
	if got := recoveries(now); got != 1 {
		t.Errorf("filter recoveries %d after one 30 minutes late: want it taken in", got)
	}
	late(now.Add(-3 * time.Hour)) // hours late: past the watermark
	h.addHours(48, 49)
	h.rows = 0
	before := recoveries(now.Add(time.Hour))
	if h.rows > 3*2+1 {
		t.Errorf("read %d rows before the rebuild, want the last hours' only", h.rows)
	}
	h.rows = 0
	after := recoveries(now.Add(6 * time.Hour))
	if h.rows < 2*48 || before != 1 || after != 2 {
		t.Errorf("rebuild read %d rows, recoveries %d then %d: want the whole window read again, the late one taken in", h.rows, before, after)
	}
	h.fail = errors.New("store down")
	h.addHours(49, 60)
	if err := b.View(t.Context(), "o", bookPrinter, now.Add(8*time.Hour), func(*maintenance.Tracker) { t.Error("called after a failed read") }); !errors.Is(err, h.fail) {
		t.Fatalf("err %v, want the store's", err)
	}
	h.fail, h.rows = nil, 0
	recoveries(now.Add(9 * time.Hour))
	if h.rows < 2*48 {
		t.Errorf("read %d rows after a failure, want the whole window again", h.rows)
	}
}
