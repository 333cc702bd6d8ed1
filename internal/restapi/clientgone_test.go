package restapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
)

// leavingPrinters fails the printer list after the client went away
// during the query, with the driver's error, not context.Canceled.
type leavingPrinters struct {
	fleetquery.PrinterReader
	leave context.CancelFunc
}

func (p leavingPrinters) Printers(context.Context, fleet.OrgID) ([]fleet.PrinterView, error) {
	p.leave()
	return nil, errors.New("interrupted (9)")
}

// A request its client gave up is logged at Debug level, not as an error
// (issue 13); TestStoreFailures covers the real failures.
func TestClientGoneIsNoError(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	d := storeDeps(f.db)
	d.Printers = leavingPrinters{PrinterReader: f.db, leave: cancel}
	for _, gone := range []bool{true, false} {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if !gone {
			d.Printers = failingPrinters{f.db}
		}
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/printers", nil)
		req.Header.Set("Authorization", "Bearer "+f.a.tokens["admin"])
		newHandler(d, Options{Clock: f.clock, Logger: logger}).mux().ServeHTTP(httptest.NewRecorder(), req)
		errorLogged := strings.Contains(logs.String(), "level=ERROR")
		switch {
		case gone && (errorLogged || !strings.Contains(logs.String(), `level=DEBUG msg="request ended by the client"`)):
			t.Errorf("client gone: want a Debug line and no error; log:\n%s", logs.String())
		case !gone && !errorLogged:
			t.Errorf("store failure: no error logged; log:\n%s", logs.String())
		}
		ctx = t.Context()
	}
}
