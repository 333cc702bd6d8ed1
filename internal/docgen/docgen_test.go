package docgen

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the generated docs")

// root is the repository, seen from this package.
const root = "../.."

// TestGeneratedDocsAreCurrent compares every generated page with the
// committed one; -update rewrites them.
func TestGeneratedDocsAreCurrent(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		full := filepath.Join(root, filepath.FromSlash(path))
		if *update {
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(full)
		if err != nil {
			t.Errorf("%s: %v; generate it with: %s", path, err, regenerate)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale; regenerate it with: %s\n(-committed +generated):\n%s", path, regenerate, cmp.Diff(string(got), string(want)))
		}
	}
}

func TestAPIReference(t *testing.T) {
	doc := `{
	  "openapi": "3.1.0",
	  "info": {"title": "T", "version": "2", "description": "An API."},
	  "security": [{"key": []}],
	  "paths": {
	    "/v1/things/{id}": {
	      "get": {"summary": "One thing.", "security": [],
	        "parameters": [{"$ref": "#/components/parameters/ID"}],
	        "x-grant-scope": "status",
	        "responses": {"200": {"description": "The thing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
	                      "404": {"$ref": "#/components/responses/NotFound"}}},
	      "post": {"summary": "Change it.",
	        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"on": {"type": "boolean"}}}}}},
	        "responses": {"204": {"description": "Done | changed"}}}
	    }
	  },
	  "components": {
	    "securitySchemes": {"key": {"type": "http", "scheme": "bearer", "description": "A key."}},
	    "parameters": {"ID": {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}},
	    "responses": {"NotFound": {"description": "No such thing"}},
	    "schemas": {
	      "Thing": {"type": "object", "description": "A thing.", "required": ["id"], "properties": {
	        "id": {"type": "string"},
	        "name": {"type": "string", "x-private": true, "description": "Its name."},
	        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
	        "at": {"type": ["string", "null"], "format": "date-time"},
	        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
	        "kind": {"oneOf": [{"$ref": "#/components/schemas/Kind"}, {"type": "null"}]}}},
	      "Kind": {"type": "string", "enum": ["x"]}
	    }
	  }
	}`
	got, err := APIReference("Things", "a test", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Things\n",
		"An API.\n\nOpenAPI 3.1.0, API version 2.",
		"- `key` (http bearer): A key.",
		"### GET /v1/things/{id}\n\nOne thing.\n\n*No authentication.*",
		"| `id` | path | string | yes |  |",
		"*Open to a service provider under a grant with the `status` scope.*",
		"| 200 | The thing | [Thing](#thing) (application/json) |",
		"| 404 | see [NotFound](#answer-notfound) |  |",
		"### Answer: NotFound\n\nNo such thing",
		"### POST /v1/things/{id}",
		"Request body (application/json): object\n\n| field |",
		"| `on` | boolean |  |  |",
		"| 204 | Done \\| changed |  |",
		"### Thing\n\nA thing.",
		"| `id` | string | yes |  |",
		"| `name` | string |  | **Private: never leaves the site.** Its name. |",
		"| `tags` | array of string: `a`, `b` |",
		"| `at` | string or null (date-time) |",
		"| `counts` | map of integer |",
		"| `kind` | [Kind](#kind) or null |",
		"### Kind\n\nType: string: `x`.",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("reference lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(string(got), "### GET") > strings.Index(string(got), "### POST") {
		t.Error("GET is not listed before POST")
	}
}

func TestAPIReferenceRefuses(t *testing.T) {
	tests := []struct {
		name, doc string
	}{
		{"not JSON", `{"openapi":`},
		{"no paths", `{"openapi": "3.1.0", "paths": {}}`},
		{"not an object", `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := APIReference("T", "a test", []byte(tt.doc)); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestPrivacyDataListsBothSides checks the page's two lists against the
// facts it must state, whatever the wording around them.
func TestPrivacyDataListsBothSides(t *testing.T) {
	got := string(PrivacyData())
	notCollected, collected, ok := strings.Cut(got, "## Collected")
	if !ok {
		t.Fatalf("no Collected section:\n%s", got)
	}
	for _, w := range []string{"| job | `name` |", "| job | `user` |", "| job | `host` |", "| part | `name` |", "| part | `geometry_ref` |"} {
		if !strings.Contains(notCollected, w) {
			t.Errorf("Not collected lacks %q", w)
		}
	}
	for _, w := range []string{"### Job\n", "| `source_host_id` |", "| `serial_number` |", "See [Box](#box)."} {
		if !strings.Contains(collected, w) {
			t.Errorf("Collected lacks %q", w)
		}
	}
	if strings.Contains(collected, "`geometry_ref`") || strings.Contains(collected, "`user`") {
		t.Error("Collected lists a private field")
	}
}
