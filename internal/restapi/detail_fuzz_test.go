package restapi

import (
	"net/url"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/clock"
)

// historyRange turns any query into a non-empty range of at most
// maxHistory, or refuses it with a message.
func FuzzHistoryRange(f *testing.F) {
	for _, q := range []string{"", "from=2026-01-01T00:00:00Z", "from=2026-03-01T00:00:00Z&to=2026-02-01T00:00:00Z",
		"to=9999-12-31T23:59:59Z", "from=0001-01-01T00:00:00Z", "from=yesterday", "limit=5&offset=-1"} {
		f.Add(q)
	}
	h := newHandler(Deps{}, Options{Clock: clock.NewManual(t0)})
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		from, to, err := h.historyRange(q)
		if err == nil && (!from.Before(to) || to.Sub(from) > maxHistory) {
			t.Errorf("range %v..%v", from, to)
		}
		if _, ok := err.(badRequest); err != nil && !ok {
			t.Errorf("error %v is not a bad request", err)
		}
		n, err := intParam(q, "limit", 7, 1, 1000)
		if err == nil && (n < 1 || n > 1000) {
			t.Errorf("limit %d", n)
		}
	})
}
