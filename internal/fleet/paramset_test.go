package fleet

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func validSet() ParameterSet {
	return ParameterSet{Schema: ParameterSetSchema, Name: "learn-4200-1", Model: "FF-4200",
		Materials: map[string]MaterialParameters{
			"PA12": {PrintMode: "robust", RecycledShareMax: 0.8, DensityMax: 0.12, LayerThicknessMM: 0.08},
			"TPU":  {LayerThicknessMM: 0.1, RefreshRatio: 0.3},
		}}
}

func TestParameterSetRoundTrip(t *testing.T) {
	want := validSet()
	b, err := want.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseParameterSet(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestParameterSetRefused(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"not json", `{`, "unexpected EOF"},
		{"unknown field", `{"schema":"fusionfleet.parameter-set/1","name":"a","model":"m","materials":{"PA12":{"layer_mm":0.1}}}`, "unknown field"},
		{"schema", `{"schema":"x","name":"a","model":"m","materials":{"PA12":{}}}`, "schema"},
		{"no materials", `{"schema":"fusionfleet.parameter-set/1","name":"a","model":"m","materials":{}}`, "materials: want 1 to 32"},
		{"mode", `{"schema":"fusionfleet.parameter-set/1","name":"a","model":"m","materials":{"PA12":{"print_mode":"turbo"}}}`, "print mode"},
		{"layer", `{"schema":"fusionfleet.parameter-set/1","name":"a","model":"m","materials":{"PA12":{"layer_thickness_mm":0.5}}}`, "layer thickness"},
		{"density", `{"schema":"fusionfleet.parameter-set/1","name":"a","model":"m","materials":{"PA12":{"density_max":0.9}}}`, "density ceiling"},
		{"refresh above ceiling", `{"schema":"fusionfleet.parameter-set/1","name":"a","model":"m","materials":{"PA12":{"refresh_ratio":0.1,"recycled_share_max":0.5}}}`, "above the ceiling"},
		{"trailing", `{"schema":"fusionfleet.parameter-set/1","name":"a","model":"m","materials":{"PA12":{}}} {}`, "trailing"},
		{"empty name", `{"schema":"fusionfleet.parameter-set/1","name":"","model":"m","materials":{"PA12":{}}}`, "name"},
		{"too large", `"` + strings.Repeat("x", MaxParameterSetBytes) + `"`, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseParameterSet([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func FuzzParameterSet(f *testing.F) {
	b, _ := validSet().Encode()
	f.Add(b)
	f.Add([]byte(`{"schema":"fusionfleet.parameter-set/1","name":"a","model":"m","materials":{"PA12":{"density_max":1e400}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseParameterSet(b)
		if err != nil {
			return
		}
		// What parses encodes and parses back to the same set.
		out, err := s.Encode()
		if err != nil {
			t.Fatalf("valid set does not encode: %v", err)
		}
		back, err := ParseParameterSet(out)
		if err != nil {
			t.Fatalf("encoded set does not parse: %v", err)
		}
		if d := cmp.Diff(s, back); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}
