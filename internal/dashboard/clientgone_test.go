package dashboard

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// leavingPrinters fails the printer list as a store does: when leave is
// set, the client goes away during the query first (the driver then
// answers "interrupted", not context.Canceled).
type leavingPrinters struct {
	fleetquery.PrinterReader
	leave context.CancelFunc
}

func (p leavingPrinters) Printers(ctx context.Context, org fleet.OrgID) ([]fleet.PrinterView, error) {
	if p.leave != nil {
		p.leave()
		return nil, errors.New("interrupted (9)")
	}
	return nil, errors.New("database is locked")
}

// A request its client gave up is no failure of the server: it is logged
// at Debug level, not as an error (issue 13); a real failure still is.
func TestClientGoneIsNoError(t *testing.T) {
	f := newFixture(t)
	token, _ := f.sessionFor(t, f.user(t, "ada"), f.clock.Now().Add(time.Hour))
	for _, path := range []string{"/", "/api/printers"} {
		for _, gone := range []bool{true, false} {
			t.Run(path+map[bool]string{true: " client gone", false: " store fails"}[gone], func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				var leave context.CancelFunc
				if gone {
					leave = cancel
				}
				var logs bytes.Buffer
				d := storeDeps(f.db)
				d.Printers = leavingPrinters{PrinterReader: f.db, leave: leave}
				h := newHandler(d, f.hub, Options{Clock: f.clock, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
				req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
				req.AddCookie(&http.Cookie{Name: "ff_session", Value: token})
				rec := httptest.NewRecorder()
				h.routes().ServeHTTP(rec, req)
				errorLogged := strings.Contains(logs.String(), "level=ERROR")
				if gone {
					if errorLogged || !strings.Contains(logs.String(), "level=DEBUG msg=\"request ended by the client\"") {
						t.Errorf("client gone: want a Debug line and no error; log:\n%s", logs.String())
					}
					return
				}
				if !errorLogged || rec.Code != http.StatusInternalServerError {
					t.Errorf("store failure: status %d, log:\n%s\nwant 500 and an error logged", rec.Code, logs.String())
				}
			})
		}
	}
}
