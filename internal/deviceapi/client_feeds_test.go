package deviceapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// TestClientRefusesBadFeedsAndSnapshots serves one bad answer per case and
// checks that the client method refuses it, saying why.
func TestClientRefusesBadFeedsAndSnapshots(t *testing.T) {
	const ts = `"time":"2026-03-02T09:30:00Z"`
	job := func(extra string) string {
		return `{"seq":4,"id":"J1","created_at":"2026-03-02T09:30:00Z","status":"printing","layer_count":10` + extra + `}`
	}
	tests := []struct {
		name    string
		body    string
		call    func(ctx context.Context, c *Client) error
		wantErr string
	}{
		{"jobs over limit", `{"instance":"I","items":[` + job("") + `,` + strings.Replace(job(""), `"seq":4`, `"seq":5`, 1) + `],"next":5,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Jobs(ctx, 3, 1); return err }, "at most 1"},
		{"jobs default limit", manyJobs(DefaultJobLimit + 1),
			func(ctx context.Context, c *Client) error { _, err := c.Jobs(ctx, 0, 0); return err }, "11 items, asked for at most 10"},
		{"job at cursor", `{"instance":"I","items":[` + job("") + `],"next":4,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Jobs(ctx, 4, 10); return err }, "not after cursor 4"},
		{"job with zero-severity warning", `{"instance":"I","items":[` + job(`,"warnings":[{"id":"W"}]`) + `],"next":4,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Jobs(ctx, 0, 10); return err }, "invalid severity"},
		{"part of another job", `{"instance":"I","items":[` + job(`,"parts":[{"id":"P","job_id":"J2","outcome":"pass","private":{"name":"n","geometry_ref":"g"}}]`) + `],"next":4,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Jobs(ctx, 0, 10); return err }, "belongs to job J2"},
		{"part twice", `{"instance":"I","items":[` + job(`,"parts":[{"id":"P","job_id":"J1","outcome":"pass"},{"id":"P","job_id":"J1","outcome":"pass"}]`) + `],"next":4,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Jobs(ctx, 0, 10); return err }, "listed twice"},
		{"job unknown field", `{"instance":"I","items":[` + job(`,"job_name":"secret"`) + `],"next":4,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Jobs(ctx, 0, 10); return err }, `unknown field "job_name"`},
		{"layer invalid", `{"instance":"I","items":[{"seq":1,"job_id":"J","index":0,"start":"2026-03-02T09:30:00Z","end":"2026-03-02T09:30:00Z"}],"next":1,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Layers(ctx, 0, 10); return err }, "inconsistent index"},
		{"layers next wrong", `{"instance":"I","items":[{"seq":1,"job_id":"J","index":1,"start":"2026-03-02T09:30:00Z","end":"2026-03-02T09:30:00Z"}],"next":7,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Layers(ctx, 0, 10); return err }, "want last seq 1"},
		{"layers empty page moves", `{"instance":"I","items":[],"next":7,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Layers(ctx, 3, 10); return err }, "moves cursor"},
		{"layers no instance", `{"instance":"","items":[],"next":0,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Layers(ctx, 0, 10); return err }, "empty instance"},
		{"log of another log", `{"instance":"I","items":[{"seq":1,"log":"memory",` + ts + `,"text":"x"}],"next":1,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Logs(ctx, fleet.LogSession, 0, 10); return err }, "asked for session"},
		{"log lines mixed", `{"instance":"I","items":[{"seq":1,"log":"session",` + ts + `,"text":"x"},{"seq":2,"log":"memory",` + ts + `,"text":"y"}],"next":2,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Logs(ctx, fleet.LogSession, 0, 10); return err }, "on one page"},
		{"log line unknown log", `{"instance":"I","items":[{"seq":1,"log":"diary",` + ts + `,"text":"x"}],"next":1,"first":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Logs(ctx, fleet.LogSession, 0, 10); return err }, `unknown log "diary"`},
		{"log line older than first", `{"instance":"I","items":[{"seq":1,"log":"session",` + ts + `,"text":"x"}],"next":1,"first":2}`,
			func(ctx context.Context, c *Client) error { _, err := c.Logs(ctx, fleet.LogSession, 0, 10); return err }, "older than first"},
		{"counters negative", `{"total_jobs":-1,` + ts + `}`,
			func(ctx context.Context, c *Client) error { _, err := c.Counters(ctx); return err }, "negative count"},
		{"counters completed over total", `{"total_jobs":1,"completed_jobs":2,` + ts + `}`,
			func(ctx context.Context, c *Client) error { _, err := c.Counters(ctx); return err }, "2 jobs completed of 1"},
		{"counters no time", `{"total_jobs":1}`,
			func(ctx context.Context, c *Client) error { _, err := c.Counters(ctx); return err }, "zero time"},
		{"counters filter", `{"filter_status_percent":120,` + ts + `}`,
			func(ctx context.Context, c *Client) error { _, err := c.Counters(ctx); return err }, "filter status 120%"},
		{"counters agent", `{"agents_consumed_ml":{"fusing":-1},` + ts + `}`,
			func(ctx context.Context, c *Client) error { _, err := c.Counters(ctx); return err }, `agent "fusing"`},
		{"consumables roll", `{"cleaning_roll":{"usage_percent":101},` + ts + `}`,
			func(ctx context.Context, c *Client) error { _, err := c.Consumables(ctx); return err }, "cleaning roll usage 101%"},
		{"consumables agent", `{"agents":[{"agent":"","supply_level_percent":50}],` + ts + `}`,
			func(ctx context.Context, c *Client) error { _, err := c.Consumables(ctx); return err }, "empty name"},
		{"consumables printhead", `{"printheads":[{"slot":2,"uuid":""}],` + ts + `}`,
			func(ctx context.Context, c *Client) error { _, err := c.Consumables(ctx); return err }, "slot 2"},
		{"consumables build unit", `{"build_units":{"installed":{"serial_number":"BU","recycled_percent":-5}},` + ts + `}`,
			func(ctx context.Context, c *Client) error { _, err := c.Consumables(ctx); return err }, `build unit "BU"`},
		{"consumables build unit inserts", `{"build_units":{"total_inserts":-1},` + ts + `}`,
			func(ctx context.Context, c *Client) error { _, err := c.Consumables(ctx); return err }, "negative build unit inserts"},
		{"consumables lamp", `{"lamps":[{"position":"warming","hours":-1}],` + ts + `}`,
			func(ctx context.Context, c *Client) error { _, err := c.Consumables(ctx); return err }, `lamp "warming"`},
		{"consumables no time", `{}`,
			func(ctx context.Context, c *Client) error { _, err := c.Consumables(ctx); return err }, "zero time"},
		{"openapi without version", `{"paths":{}}`,
			func(ctx context.Context, c *Client) error { _, err := c.OpenAPI(ctx); return err }, "no openapi version"},
		{"openapi not an object", `[1]`,
			func(ctx context.Context, c *Client) error { _, err := c.OpenAPI(ctx); return err }, "decode answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, pin := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tt.body))
			}))
			c := NewClient(addr, pin, collectorOpts(ClientOptions{}))
			t.Cleanup(c.CloseIdleConnections)
			err := tt.call(t.Context(), c)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), addr) {
				t.Errorf("got %v, want an error naming %s and containing %q", err, addr, tt.wantErr)
			}
		})
	}
}

// An unknown log is refused before the printer is asked, and the
// printer's own 404 for a log reaches the caller as a *StatusError.
func TestClientLogs(t *testing.T) {
	dev := newFakeDevice()
	addr, pin := startServer(t, testHandler(t, dev))
	c := NewClient(addr, pin, collectorOpts(ClientOptions{}))
	t.Cleanup(c.CloseIdleConnections)

	if _, err := c.Logs(t.Context(), "diary/../x", 0, 0); err == nil || !strings.Contains(err.Error(), `unknown log "diary/../x"`) {
		t.Errorf("unknown log: got %v", err)
	}
	if dev.calls != 0 {
		t.Errorf("printer asked %d times for an unknown log", dev.calls)
	}
	_, err := c.get(t.Context(), "/v1/logs/diary")
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != 404 || !strings.Contains(se.Message, "known logs: session") {
		t.Errorf("printer's 404: got %v", err)
	}
	// A limit the printer refuses comes back as its 400.
	_, err = c.Jobs(t.Context(), 0, MaxJobLimit+1)
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Code != 400 || !strings.Contains(se.Message, "from 1 to 50") {
		t.Errorf("limit over max: got %v", err)
	}
	for _, log := range fleet.LogKinds() {
		if _, err := c.Logs(t.Context(), log, 0, 0); err != nil {
			t.Errorf("Logs(%s): %v", log, err)
		}
	}
}

// manyJobs is a valid job page of n entries with seq 1..n.
func manyJobs(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"seq":%d,"id":"J%d","created_at":"2026-03-02T09:30:00Z","status":"queued"}`, i+1, i+1)
	}
	return fmt.Sprintf(`{"instance":"I","items":[%s],"next":%d,"first":1}`, strings.Join(items, ","), n)
}
