package update

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVersionCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"4.3.0", "4.2.9", 1},
		{"4.10.0", "4.9.9", 1}, // numbers, not strings
		{"4.3", "4.3.0", 0},
		{"5.0.0-rc.1", "5.0.0", -1},
		{"5.0.0-rc.2", "5.0.0-rc.10", -1},
		{"5.0.0-alpha", "5.0.0-beta", -1},
		{"5.0.0-1", "5.0.0-alpha", -1},
		{"5.0.0-rc", "5.0.0-rc.1", -1},
		{"2.1", "2.1", 0},
		{"10", "9.9.9.9", 1},
	}
	for _, tc := range tests {
		t.Run(tc.a+" vs "+tc.b, func(t *testing.T) {
			a, err := ParseVersion(tc.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ParseVersion(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Compare(b); got != tc.want {
				t.Errorf("Compare = %d, want %d", got, tc.want)
			}
			if got := b.Compare(a); got != -tc.want {
				t.Errorf("reverse Compare = %d, want %d", got, -tc.want)
			}
		})
	}
}

func TestParseVersionRejects(t *testing.T) {
	for _, s := range []string{"", "v4.3", "4..3", "4.3.", "04.3", "1.2.3.4.5", "4.3-", "4.3-rc_1", "99999999999", strings.Repeat("1", 65)} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) succeeded", s)
		}
	}
}

func TestReleaseValidate(t *testing.T) {
	pct := func(n int) *int { return &n }
	good := Release{Kind: KindFirmware, Version: "4.3.0", Models: []string{"FF-4200"}, MinVersion: "4.0.0"}
	tests := []struct {
		name string
		edit func(*Release)
		ok   bool
	}{
		{"good", func(*Release) {}, true},
		{"rollout by percent and site", func(r *Release) { r.Rollout = &Rollout{Percent: pct(10), Sites: []string{"plant-a"}} }, true},
		{"unknown kind", func(r *Release) { r.Kind = "bootloader" }, false},
		{"bad version", func(r *Release) { r.Version = "latest" }, false},
		{"min version not below", func(r *Release) { r.MinVersion = "4.3.0" }, false},
		{"no models", func(r *Release) { r.Models = nil }, false},
		{"blank model", func(r *Release) { r.Models = []string{" "} }, false},
		{"control character", func(r *Release) { r.Name = "std\x00" }, false},
		{"percent above 100", func(r *Release) { r.Rollout = &Rollout{Percent: pct(101)} }, false},
		{"empty rollout", func(r *Release) { r.Rollout = &Rollout{} }, false},
		{"huge notes", func(r *Release) { r.Notes = strings.Repeat("x", maxNotesBytes+1) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.edit(&r)
			if err := r.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestDecodeRelease(t *testing.T) {
	pct := 25
	want := Release{Kind: KindParameters, Version: "2.2", Models: []string{"FF-4200"}, Name: "std-4200-2.2",
		Notes: "Neue Parameter", Rollout: &Rollout{Percent: &pct}}
	raw, err := EncodeRelease(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRelease(raw)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	for _, bad := range []string{`null`, `{}`, `{"fusionfleet":{}}`, `{"fusionfleet":{"kind":"firmware"}} {}`, `[`} {
		if _, err := DecodeRelease([]byte(bad)); err == nil {
			t.Errorf("DecodeRelease(%s) succeeded", bad)
		}
	}
}

// FuzzDecodeRelease feeds arbitrary custom metadata to the decoder: it
// must never panic, and what it accepts must survive a round trip.
func FuzzDecodeRelease(f *testing.F) {
	f.Add([]byte(`{"fusionfleet":{"kind":"firmware","version":"4.3.0","models":["FF-4200"],"min_version":"4.0.0"}}`))
	f.Add([]byte(`{"fusionfleet":{"kind":"parameters","version":"2.2","models":["FF-4200"],"rollout":{"percent":10,"sites":["a"]}}}`))
	f.Add([]byte(`{"fusionfleet":{"kind":"firmware","version":"5.0.0-rc.1","models":["x"],"notes":"\u00e4"}}`))
	f.Add([]byte(`{"other":1}`))
	f.Add([]byte(`{"fusionfleet":{"kind":"commandcenter","version":"1.4.0","models":["linux/amd64","windows/amd64"]}}`))
	f.Add([]byte(`{"fusionfleet":{"kind":"commandcenter","version":"1.4.0","models":["FF-4200"]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := DecodeRelease(raw)
		if err != nil {
			return
		}
		again, err := EncodeRelease(r)
		if err != nil {
			t.Fatalf("accepted release does not encode: %v", err)
		}
		r2, err := DecodeRelease(again)
		if err != nil {
			t.Fatalf("re-encoded release does not decode: %v", err)
		}
		if d := cmp.Diff(r, r2); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

// FuzzParseVersion checks that parsed versions order consistently.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"4.3.0", "5.0.0-rc.1", "2.1", "1.2.3.4", "0", "1.0.0-a.b.1"} {
		f.Add(s, "4.3.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, errA := ParseVersion(a)
		vb, errB := ParseVersion(b)
		if errA != nil || errB != nil {
			return
		}
		if va.Compare(va) != 0 {
			t.Fatalf("%q does not equal itself", a)
		}
		if va.Compare(vb) != -vb.Compare(va) {
			t.Fatalf("Compare(%q, %q) not antisymmetric", a, b)
		}
		again, err := ParseVersion(va.String())
		if err != nil || again.Compare(va) != 0 {
			t.Fatalf("String() of %q = %q does not parse back equal: %v", a, va.String(), err)
		}
	})
}
