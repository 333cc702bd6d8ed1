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
// an hour later, only that hour's records whatever the history's length,
// and its forecasts are those of a fresh replay of the whole window.
func TestBookReadsOnlyNewRecords(t *testing.T) {
	fc := &maintenance.Forecaster{Models: map[maintenance.Kind]maintenance.Model{
		maintenance.Printhead: {Kind: maintenance.Printhead, Fitted: true, Shape: 2, Scale: 450}}}
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
			if h.rows != 2 {
				t.Errorf("second request read %d rows, want the hour's 2", h.rows)
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

// TestBookRebuilds: a record stored late, older than the watermark, is
// taken in at the next rebuild; a failed read is returned and the next
// request builds the tracker anew.
func TestBookRebuilds(t *testing.T) {
	h := &counting{history: history{}}
	h.addHours(0, 48)
	b := maintenance.NewBook(h, maintenance.BookOptions{Rebuild: 6 * time.Hour})
	now := bookStart.Add(47 * time.Hour)
	usage := func(now time.Time) float64 {
		t.Helper()
		var u float64
		if err := b.View(t.Context(), "o", bookPrinter, now, func(tr *maintenance.Tracker) {
			u = tr.Installed(bookPrinter, now)[0].Usage
		}); err != nil {
			t.Fatal(err)
		}
		return u
	}
	usage(now)
	// A counter reading of an hour ago arrives late and says the printer
	// printed 5 h more than thought.
	late := bookStart.Add(46*time.Hour + 30*time.Minute)
	h.history[bookPrinter] = append(h.history[bookPrinter], fleet.Record{Kind: fleet.KindCounters, PrinterID: bookPrinter, Time: late,
		Counters: &fleet.Counters{PrintTimeSec: (47*10/24.0 + 5) * 3600, Time: late}})
	h.addHours(48, 49)
	h.rows = 0
	before := usage(now.Add(time.Hour))
	if h.rows != 2 {
		t.Errorf("read %d rows before the rebuild, want 2", h.rows)
	}
	h.rows = 0
	after := usage(now.Add(6 * time.Hour))
	if h.rows < 2*48 || before == after {
		t.Errorf("rebuild read %d rows, usage %v then %v: want the whole window read again", h.rows, before, after)
	}
	h.fail = errors.New("store down")
	h.addHours(49, 60)
	if err := b.View(t.Context(), "o", bookPrinter, now.Add(7*time.Hour), func(*maintenance.Tracker) { t.Error("called after a failed read") }); !errors.Is(err, h.fail) {
		t.Fatalf("err %v, want the store's", err)
	}
	h.fail, h.rows = nil, 0
	usage(now.Add(8 * time.Hour))
	if h.rows < 2*48 {
		t.Errorf("read %d rows after a failure, want the whole window again", h.rows)
	}
}
