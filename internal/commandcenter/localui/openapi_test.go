package localui

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/clock"
)

// Every status the local API answers before or in a route is in its
// OpenAPI document: the 421 of a request not addressed to the local UI,
// the 401 of one without the password when the UI has one, and what a
// route answers a request from another origin (it reads only, so the
// origin check of the forms does not refuse it).
func TestOpenAPIDocumentsRefusals(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	st := handlerStore(t)
	open := NewHandler(SourcesOf(st), HandlerOptions{Clock: clock.NewManual(handlerNow)})
	locked := NewHandler(SourcesOf(st), HandlerOptions{Clock: clock.NewManual(handlerNow), Password: "correct horse"})
	cases := []struct {
		name   string
		h      http.Handler
		host   string
		origin string
		want   int // 0: any status, as long as it is documented
	}{
		{name: "rebound name", h: open, host: "attacker.example:8080", want: http.StatusMisdirectedRequest},
		{name: "no password", h: locked, host: "localhost", want: http.StatusUnauthorized},
		{name: "other origin", h: open, host: "localhost", origin: "https://attacker.example"},
	}
	for _, rt := range (&localUI{}).routes() {
		if !rt.api {
			continue
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		ops := doc.Paths[path]
		if ops == nil {
			t.Errorf("%s is not in openapi.json", rt.pattern)
			continue
		}
		responses := ops[strings.ToLower(method)].Responses
		for _, c := range cases {
			t.Run(rt.pattern+"/"+c.name, func(t *testing.T) {
				req := httptest.NewRequestWithContext(t.Context(), method, strings.Replace(path, "{id}", "1", 1), nil)
				req.Host = c.host
				if c.origin != "" {
					req.Header.Set("Origin", c.origin)
				}
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, req)
				if c.want != 0 && rec.Code != c.want {
					t.Errorf("status %d, want %d", rec.Code, c.want)
				}
				if responses[strconv.Itoa(rec.Code)] == nil {
					t.Errorf("status %d is not documented for %s", rec.Code, rt.pattern)
				}
			})
		}
	}
}
