package deviceapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// servedDocument fetches /openapi.json from a handler and decodes it.
func servedDocument(t *testing.T) map[string]any {
	t.Helper()
	rec := httptest.NewRecorder()
	asCollector(testHandler(t, newFakeDevice())).ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /openapi.json: %d %s", rec.Code, rec.Body)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentShape(t *testing.T) {
	doc := servedDocument(t)
	if diff := cmp.Diff([]string{"components", "info", "openapi", "paths", "security"}, slices.Sorted(maps.Keys(doc))); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi: got %v, want 3.1.0", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info %v lacks title or version", info)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	// Every $ref points at a schema that exists.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				name, found := strings.CutPrefix(ref, "#/components/schemas/")
				if _, ok := schemas[name]; !found || !ok {
					t.Errorf("dangling $ref %q", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	for _, name := range []string{"Identity", "Status", "CurrentJob", "JobPrivate", "PartPrivate", "Job", "Part",
		"EventPage", "JobPage", "LayerPage", "LogPage", "Event", "Layer", "LogLine", "Counters", "Consumables", "Error"} {
		if _, ok := schemas[name]; !ok {
			t.Errorf("no schema for wire type %s", name)
		}
	}
}

// TestOpenAPIMatchesRoutes checks that the document lists exactly the
// routes the handler serves (the table the mux is built from), and that
// each documented route answers.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := servedDocument(t)
	var served []string
	for _, rt := range routeTable(nil) {
		served = append(served, rt.path)
	}
	documented := slices.Sorted(maps.Keys(doc["paths"].(map[string]any)))
	if diff := cmp.Diff(slices.Sorted(slices.Values(served)), documented); diff != "" {
		t.Errorf("documented paths (-served +documented):\n%s", diff)
	}
	h := asCollector(testHandler(t, newFakeDevice()))
	for _, p := range documented {
		ops := doc["paths"].(map[string]any)[p].(map[string]any)
		if diff := cmp.Diff([]string{"get"}, slices.Sorted(maps.Keys(ops))); diff != "" {
			t.Errorf("%s operations (-want +got):\n%s", p, diff)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", strings.ReplaceAll(p, "{log}", "session"), nil))
		if rec.Code != 200 {
			t.Errorf("documented GET %s: %d %s", p, rec.Code, rec.Body)
		}
	}
}

// TestOpenAPISecurity checks that the document declares the paired
// collector's mutual TLS, and that exactly the routes served to anyone
// waive it.
func TestOpenAPISecurity(t *testing.T) {
	doc := servedDocument(t)
	schemes := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	if diff := cmp.Diff([]string{securityScheme}, slices.Sorted(maps.Keys(schemes))); diff != "" {
		t.Fatalf("security schemes (-want +got):\n%s", diff)
	}
	if typ := schemes[securityScheme].(map[string]any)["type"]; typ != "mutualTLS" {
		t.Errorf("security scheme type %v, want mutualTLS", typ)
	}
	if diff := cmp.Diff([]any{map[string]any{securityScheme: []any{}}}, doc["security"]); diff != "" {
		t.Errorf("document security (-want +got):\n%s", diff)
	}
	paths := doc["paths"].(map[string]any)
	for _, rt := range routeTable(nil) {
		op := paths[rt.path].(map[string]any)["get"].(map[string]any)
		sec, waived := op["security"]
		_, has401 := op["responses"].(map[string]any)["401"]
		switch {
		case rt.public && (!waived || len(sec.([]any)) != 0 || has401):
			t.Errorf("%s is public: want security [] and no 401, got security %v, 401 %v", rt.path, sec, has401)
		case !rt.public && (waived || !has401):
			t.Errorf("%s needs a paired collector: want the document's security and a 401, got security %v, 401 %v", rt.path, sec, has401)
		}
	}
}

// TestOpenAPIPrivateFields pins which fields the document marks private.
func TestOpenAPIPrivateFields(t *testing.T) {
	schemas := servedDocument(t)["components"].(map[string]any)["schemas"].(map[string]any)
	var got []string
	for name, s := range schemas {
		s := s.(map[string]any)
		if s["x-private"] == true {
			got = append(got, name)
		}
		for prop, p := range s["properties"].(map[string]any) {
			p := p.(map[string]any)
			if p["x-private"] == true {
				got = append(got, name+"."+prop)
				if d, _ := p["description"].(string); !strings.HasPrefix(d, "PRIVATE") {
					t.Errorf("%s.%s is private but its description %q does not say so", name, prop, d)
				}
			}
		}
	}
	slices.Sort(got)
	want := []string{"CurrentJob.private", "Job.private", "JobPrivate", "JobPrivate.host", "JobPrivate.name", "JobPrivate.user",
		"Part.private", "PartPrivate", "PartPrivate.geometry_ref", "PartPrivate.name"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("private fields (-want +got):\n%s", diff)
	}
}

// TestOpenAPIDescribesAnswers checks every answer of the handler against
// the schema the document gives for it: no property the schema lacks, no
// required one missing, the right JSON types and enum values.
func TestOpenAPIDescribesAnswers(t *testing.T) {
	doc := servedDocument(t)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	unpaired := testHandler(t, newFakeDevice())
	h := asCollector(unpaired)
	for p, ops := range doc["paths"].(map[string]any) {
		if p == openAPIPath {
			continue
		}
		t.Run(p, func(t *testing.T) {
			resp := ops.(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)
			for _, tc := range []struct {
				h      http.Handler
				target string
			}{
				{h, strings.ReplaceAll(p, "{log}", "session")},
				{h, p + "?limit=nope"},
				{unpaired, strings.ReplaceAll(p, "{log}", "session")}, // 401, or a public answer
			} {
				target := tc.target
				rec := httptest.NewRecorder()
				tc.h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
				var body any
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatal(err)
				}
				r, ok := resp[fmt.Sprint(rec.Code)].(map[string]any)
				if !ok {
					t.Fatalf("GET %s answered %d, which the document does not list", target, rec.Code)
				}
				schema := r["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
				for _, err := range conforms(schemas, schema, body, "$") {
					t.Errorf("GET %s: %v", target, err)
				}
			}
		})
	}
}

// conforms checks v against the subset of JSON Schema the document uses.
func conforms(schemas map[string]any, schema, v any, at string) []error {
	s := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		return conforms(schemas, schemas[strings.TrimPrefix(ref, "#/components/schemas/")], v, at)
	}
	var errs []error
	for _, sub := range anyList(s["allOf"]) {
		errs = append(errs, conforms(schemas, sub, v, at)...)
	}
	if alts := anyList(s["anyOf"]); alts != nil {
		ok := false
		for _, sub := range alts {
			ok = ok || len(conforms(schemas, sub, v, at)) == 0
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s: matches none of anyOf", at))
		}
	}
	if e := anyList(s["enum"]); e != nil && !slices.Contains(e, v) {
		errs = append(errs, fmt.Errorf("%s: %v not in enum %v", at, v, e))
	}
	types := anyList(s["type"])
	if t, ok := s["type"].(string); ok {
		types = []any{t}
	}
	jt := jsonType(v)
	if types != nil && !slices.Contains(types, any(jt)) && !(jt == "integer" && slices.Contains(types, any("number"))) {
		return append(errs, fmt.Errorf("%s: %s, want %v", at, jt, types))
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range anyList(s["required"]) {
			if _, ok := v[r.(string)]; !ok {
				errs = append(errs, fmt.Errorf("%s: required %q missing", at, r))
			}
		}
		for k, x := range v {
			if p, ok := props[k]; ok {
				errs = append(errs, conforms(schemas, p, x, at+"."+k)...)
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				errs = append(errs, conforms(schemas, ap, x, at+"."+k)...)
			} else if s["additionalProperties"] == false {
				errs = append(errs, fmt.Errorf("%s: property %q not in the schema", at, k))
			}
		}
	case []any:
		for i, x := range v {
			errs = append(errs, conforms(schemas, s["items"], x, fmt.Sprintf("%s[%d]", at, i))...)
		}
	}
	return errs
}

func anyList(v any) []any { l, _ := v.([]any); return l }

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	}
	return "object"
}

// The checker above must itself catch what it is for.
func TestConformsCatchesMismatches(t *testing.T) {
	schemas := servedDocument(t)["components"].(map[string]any)["schemas"].(map[string]any)
	ref := map[string]any{"$ref": "#/components/schemas/LogLine"}
	tests := []struct {
		name, body string
		want       int
	}{
		{"valid", `{"seq":1,"log":"session","time":"2026-03-02T09:30:00Z","text":"x"}`, 0},
		{"extra property", `{"seq":1,"log":"session","time":"2026-03-02T09:30:00Z","text":"x","user":"u"}`, 1},
		{"missing required", `{"seq":1,"log":"session","time":"2026-03-02T09:30:00Z"}`, 1},
		{"wrong type", `{"seq":1.5,"log":"session","time":"2026-03-02T09:30:00Z","text":"x"}`, 1},
		{"not in enum", `{"seq":1,"log":"diary","time":"2026-03-02T09:30:00Z","text":"x"}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.body), &v); err != nil {
				t.Fatal(err)
			}
			if got := conforms(schemas, ref, v, "$"); len(got) != tt.want {
				t.Errorf("got %d errors %v, want %d", len(got), got, tt.want)
			}
		})
	}
}

// TestOpenAPIIsTheServedDocument checks that OpenAPI, from which the
// reference docs are generated, is the document a printer serves.
func TestOpenAPIIsTheServedDocument(t *testing.T) {
	var got map[string]any
	if err := json.Unmarshal(OpenAPI(), &got); err != nil {
		t.Fatalf("OpenAPI is not JSON: %v", err)
	}
	if diff := cmp.Diff(servedDocument(t), got); diff != "" {
		t.Errorf("OpenAPI differs from the served document (-served +OpenAPI):\n%s", diff)
	}
}
