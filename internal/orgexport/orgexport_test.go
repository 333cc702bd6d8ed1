package orgexport

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, parts map[string][]map[string]any, order []string) string {
	t.Helper()
	var b bytes.Buffer
	w, err := NewWriter(&b, "org_a", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var progress int64
	w.Progress = func(n int64) { progress = n }
	total := 0
	for _, p := range order {
		if err := w.Part(p); err != nil {
			t.Fatal(err)
		}
		for _, r := range parts[p] {
			total++
			if err := w.Row(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	m, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if progress != int64(total) || len(m.Tables) != len(order) {
		t.Errorf("progress %d of %d rows, manifest %+v", progress, total, m)
	}
	return b.String()
}

func TestWriteAndVerify(t *testing.T) {
	parts := map[string][]map[string]any{
		"orgs":  {{"id": "org_a", "name": "A, \"quoted\"\nnewline"}},
		"sites": {{"id": "site_1"}, {"id": "site_2"}},
		"empty": nil,
	}
	for _, order := range [][]string{nil, {"orgs"}, {"orgs", "empty", "sites"}} {
		doc := write(t, parts, order)
		var whole map[string]any
		if err := json.Unmarshal([]byte(doc), &whole); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", order, err, doc)
		}
		h, m, err := Verify(strings.NewReader(doc))
		if err != nil {
			t.Fatalf("%v: %v\n%s", order, err, doc)
		}
		if h.Org != "org_a" || len(m.Tables) != len(order) {
			t.Errorf("%v: header %+v, manifest %+v", order, h, m)
		}
	}
	doc := write(t, parts, []string{"orgs", "empty", "sites"})
	for name, tampered := range map[string]string{
		"a row changed": strings.Replace(doc, `"site_2"`, `"site_9"`, 1),
		"a row removed": strings.Replace(doc, `{"id":"site_1"},`+"\n", "", 1),
		"a row added":   strings.Replace(doc, `{"id":"site_1"},`, `{"id":"site_1"},`+"\n"+`{"id":"site_x"},`, 1),
	} {
		if _, _, err := Verify(strings.NewReader(tampered)); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: %v, want ErrMismatch", name, err)
		}
	}
	if _, _, err := Verify(strings.NewReader(doc[:len(doc)/2])); err == nil {
		t.Error("a cut document verified")
	}
}

// FuzzVerify reads arbitrary documents: no panic, and a document that
// verifies is JSON.
func FuzzVerify(f *testing.F) {
	var b bytes.Buffer
	w, _ := NewWriter(&b, "org_a", time.Unix(0, 0))
	w.Part("orgs")
	w.Row(map[string]any{"id": "org_a"})
	w.Close()
	f.Add(b.String())
	f.Add("{}")
	f.Fuzz(func(t *testing.T, s string) {
		if _, _, err := Verify(strings.NewReader(s)); err == nil && !json.Valid([]byte(s)) {
			t.Fatalf("verified a document that is not JSON: %q", s)
		}
	})
}
