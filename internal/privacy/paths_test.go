package privacy

import (
	"strings"
	"testing"
)

func TestScrubPaths(t *testing.T) {
	tests := []struct{ in, want string }{
		{`opened C:\Users\anna\Jobs\bracket.3mf for printing`, `opened [path] for printing`},
		{`file="\\FILESRV01\cad\housing v2.3mf"`, `file="[path] v2.3mf"`},
		{`loaded /home/anna/jobs/gear.3mf.`, `loaded [path].`},
		{`source=~/prints/x.3mf`, `source=[path]`},
		{`Jobs/bracket.3mf queued`, `[path] queued`},
		{`agent flow 12 mL/min, valve on/off`, `agent flow 12 mL/min, valve on/off`},
		{`layer 12/400 done`, `layer 12/400 done`},
		{`firmware 2.1.0 parameter set PS-3`, `firmware 2.1.0 parameter set PS-3`},
		{`no slash here`, `no slash here`},
		{`share smb://nas/prints`, `share [path]`},
	}
	for _, tt := range tests {
		got, changed := ScrubPaths(tt.in)
		if got != tt.want || changed != (tt.in != tt.want) {
			t.Errorf("ScrubPaths(%q) = %q, %v; want %q", tt.in, got, changed, tt.want)
		}
	}
}

// TestNamesScrubPaths: Names scrubs paths too, with or without names known.
func TestNamesScrubPaths(t *testing.T) {
	n := NewNames(0)
	if got := n.ScrubString(`saved C:\Users\zed\a.3mf`); got != `saved [path]` {
		t.Errorf("no names: %q", got)
	}
	n.Add("Widget Housing")
	got := n.ScrubString(`job Widget Housing from /srv/cad/widget.3mf`)
	if strings.Contains(got, "Widget") || strings.Contains(got, "srv") {
		t.Errorf("got %q", got)
	}
}

func FuzzScrubPaths(f *testing.F) {
	for _, s := range []string{`C:\a\b`, `/x/y`, `a/b.c`, `x`, `"\\srv\"`, "\xff/\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, changed := ScrubPaths(s)
		if !changed && got != s {
			t.Fatalf("unchanged but differs: %q", got)
		}
		again, _ := ScrubPaths(got)
		if again != got {
			t.Fatalf("not idempotent: %q then %q", got, again)
		}
	})
}
