package audit

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHeadsRoundTrip(t *testing.T) {
	heads := []Head{{Org: SystemOrg, Seq: 3, Hash: Genesis}, {Org: "org_a", Seq: 12, Hash: strings.Repeat("ab", 32)}}
	var b strings.Builder
	b.WriteString("org org_a: 12 entries, verified\n")
	for _, h := range heads {
		b.WriteString(FormatHead(h) + "\n")
	}
	got, err := ParseHeads(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(heads, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"head org_a 1", "head org_a x " + Genesis, "head org_a 1 ABC", "head org_a -1 " + Genesis} {
		if _, err := ParseHeads(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseHeads feeds arbitrary anchor files: no panic, and what parses
// formats back to lines that parse alike.
func FuzzParseHeads(f *testing.F) {
	f.Add("head - 3 " + Genesis + "\nhead org_a 1 " + Genesis)
	f.Add("org x: ok\nhead")
	f.Fuzz(func(t *testing.T, s string) {
		heads, err := ParseHeads(strings.NewReader(s))
		if err != nil {
			return
		}
		var b strings.Builder
		for _, h := range heads {
			b.WriteString(FormatHead(h) + "\n")
		}
		again, err := ParseHeads(strings.NewReader(b.String()))
		if err != nil || !cmp.Equal(heads, again) {
			t.Fatalf("%q → %v → %q → %v, %v", s, heads, b.String(), again, err)
		}
	})
}
