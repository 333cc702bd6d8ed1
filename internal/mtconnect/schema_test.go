package mtconnect

import (
	"net/http"
	"strings"
	"testing"
)

// Every kind of document the agent writes validates against the
// standard's schemas of the version it declares: probe, current, sample
// with data, assets and an error.
func TestDocumentsValidate(t *testing.T) {
	v := newValidator(t)
	_, a, _ := scene(t, Options{})
	h := a.Handler()
	for _, tc := range []struct {
		path, kind string
		status     int
		want       []string // in the document, so that it is not trivially valid
	}{
		{"/probe", "Devices", 200, []string{`type="MATERIAL_LAYER"`, `type="ff:JOB_PROGRESS"`, "<ExposureUnit", "<Deposition", "<Vat"}},
		{"/current", "Streams", 200, []string{"<MaterialLayer", "<ff:JobProgress", "<Warning", "<Fault", "&lt;batch 7&gt;"}},
		{"/sample?count=1000", "Streams", 200, []string{"<Availability", "<Message", "<ff:LampIntensity"}},
		{"/assets", "Assets", 200, []string{"<RawMaterial", `assetId="bu-BU-7"`}},
		{"/sample?from=999999", "Error", 400, []string{`errorCode="OUT_OF_RANGE"`}},
	} {
		status, doc := get(t, h, tc.path)
		if status != tc.status {
			t.Errorf("GET %s: status %d, want %d\n%s", tc.path, status, tc.status, doc)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(doc), w) {
				t.Errorf("GET %s: document lacks %s", tc.path, w)
			}
		}
		if bad := v.check(t, tc.kind, doc); bad != "" {
			t.Errorf("GET %s: not valid against MTConnect%s 2.4:\n%s\n%s", tc.path, tc.kind, bad, doc)
		}
	}
	if status, _ := get(t, h, extSchemaPath); status != http.StatusOK {
		t.Errorf("GET %s: status %d", extSchemaPath, status)
	}
}

// The validation can fail: a document that breaks the schema is refused.
func TestValidatorRefuses(t *testing.T) {
	v := newValidator(t)
	_, a, _ := scene(t, Options{})
	_, doc := get(t, a.Handler(), "/current")
	broken := strings.Replace(string(doc), `<MaterialLayer`, `<MaterialLayerz`, 1)
	broken = strings.Replace(broken, `</MaterialLayer>`, `</MaterialLayerz>`, 1)
	if v.check(t, "Streams", []byte(broken)) == "" {
		t.Error("a document with an unknown observation element validated")
	}
}
