package privacy

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

func TestScrubString(t *testing.T) {
	names := []string{"Bracket", "Bracket-v2", "jsmith", "CAD-WS-07", "Größe", "ab", "  Housing  ", "Private", "riv"}
	tests := []struct {
		name, in, want string
	}{
		{"no name", "lamp 2 weak", "lamp 2 weak"},
		{"empty", "", ""},
		{"one name", "printing Bracket layer 3", "printing [private] layer 3"},
		{"any case", "printing bRACKET layer 3", "printing [private] layer 3"},
		{"longest wins", "printing Bracket-v2 now", "printing [private] now"},
		{"several", "jsmith@CAD-WS-07 sent Bracket", "[private]@[private] sent [private]"},
		{"adjacent", "BracketBracket", "[private][private]"},
		{"inside a word", "xxjsmithyy", "xx[private]yy"},
		{"unicode folding", "part GRÖSSE failed, part größe ok", "part GRÖSSE failed, part [private] ok"},
		{"unicode upper case", "part GRÖßE failed", "part [private] failed"},
		{"short names are ignored", "ab cd", "ab cd"},
		{"names are trimmed", "the Housing cracked", "the [private] cracked"},
		{"names in the marker are ignored", "private riverside", "private riverside"},
		{"invalid UTF-8 kept", "\xffBracket\xfe", "\xff[private]\xfe"},
	}
	n := NewNames(0)
	n.Add(names...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := n.ScrubString(tt.in); got != tt.want {
				t.Errorf("ScrubString(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// A name that the marker completes is caught: the whole string goes.
func TestScrubStringNameFormedByMarker(t *testing.T) {
	n := NewNames(0)
	n.Add("abc", "te]]")
	if got, want := n.ScrubString("abc]x"), "[private]"; got != want {
		t.Errorf("ScrubString = %q, want %q (\"[private]]x\" would contain \"te]]\")", got, want)
	}
}

func TestNamesZeroValueAndEmpty(t *testing.T) {
	var n Names
	if got := n.ScrubString("Bracket"); got != "Bracket" {
		t.Errorf("empty set changed %q", got)
	}
	rec := fleet.Record{Kind: fleet.KindLog, Log: &fleet.LogLine{Text: "Bracket"}}
	n.Scrub(&rec)
	n.Scrub(nil)
	if rec.Log.Text != "Bracket" {
		t.Errorf("empty set scrubbed %q", rec.Log.Text)
	}
	n.Add("Bracket", "", "  ", "x")
	if got := n.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1", got)
	}
	if got := n.ScrubString("Bracket"); got != redacted {
		t.Errorf("zero value after Add: %q", got)
	}
}

func TestNamesForgetsOldest(t *testing.T) {
	n := NewNames(3)
	n.Add("alpha", "bravo", "charlie")
	n.Add("alpha") // used again: now the newest
	n.Add("delta") // forgets bravo, the oldest
	tests := []struct {
		name string
		want string
	}{
		{"alpha", redacted}, {"bravo", "bravo"}, {"charlie", redacted}, {"delta", redacted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := n.ScrubString(tt.name); got != tt.want {
				t.Errorf("ScrubString(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
	if got := n.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
	// Re-adding the same names over and over keeps the bookkeeping small.
	for range 10000 {
		n.Add("alpha", "charlie", "delta")
	}
	n.mu.RLock()
	uses := len(n.order)
	n.mu.RUnlock()
	if uses > 2*3+64 {
		t.Errorf("%d uses kept for 3 names", uses)
	}
}

// The order names were added in does not change the outcome.
func TestScrubDeterministic(t *testing.T) {
	a, b := NewNames(0), NewNames(0)
	names := []string{"Bracket", "BRACKET-V2", "bracket-v", "racket-v2"}
	a.Add(names...)
	for i := len(names) - 1; i >= 0; i-- {
		b.Add(names[i])
	}
	for _, s := range []string{"Bracket-v2 and bracket-v3 and racket-v2", "xBRACKET-V2x"} {
		if ga, gb := a.ScrubString(s), b.ScrubString(s); ga != gb {
			t.Errorf("%q: %q vs %q", s, ga, gb)
		}
	}
}

func TestScrubRecord(t *testing.T) {
	n := NewNames(0)
	n.Add("Bracket", "jsmith", "fusing")
	rec := fleet.Record{Kind: fleet.KindJob, PrinterID: "printer-0001", Job: &fleet.Job{
		ID: "J1", SourceApp: "Build Manager on jsmith-pc", Status: fleet.JobPrinting,
		PartMaterials: []string{"PA12", "Bracket powder"},
		Warnings:      []fleet.JobWarning{{ID: "W1", Message: "Bracket: powder low"}},
		SubJobs:       []fleet.SubJob{{Kind: "cooling bracket"}},
	}}
	n.Scrub(&rec)
	want := fleet.Record{Kind: fleet.KindJob, PrinterID: "printer-0001", Job: &fleet.Job{
		ID: "J1", SourceApp: "Build Manager on [private]-pc", Status: fleet.JobPrinting,
		PartMaterials: []string{"PA12", "[private] powder"},
		Warnings:      []fleet.JobWarning{{ID: "W1", Message: "[private]: powder low"}},
		SubJobs:       []fleet.SubJob{{Kind: "cooling [private]"}},
	}}
	if diff := cmp.Diff(want, rec); diff != "" {
		t.Errorf("Scrub (-want +got):\n%s", diff)
	}

	// Map keys and values; keys that become one keep the first's value.
	c := fleet.Record{Kind: fleet.KindCounters, Counters: &fleet.Counters{
		AgentsConsumedML: map[string]float64{"Bracket-agent": 1, "jsmith-agent": 2, "detailing": 3},
	}}
	n.Scrub(&c)
	if diff := cmp.Diff(map[string]float64{"[private]-agent": 1, "detailing": 3}, c.Counters.AgentsConsumedML); diff != "" {
		t.Errorf("Scrub of map keys (-want +got):\n%s", diff)
	}

	// Vocabularies and the printer ID are left alone, even when they match.
	v := NewNames(0)
	v.Add("printing", "printer", "status", "session", "pending")
	s := fleet.Record{Kind: fleet.KindStatus, PrinterID: "printer-0001", Status: &fleet.Status{
		PrinterID: "printer-0001", Activity: "printing layer 2",
	}}
	v.Scrub(&s)
	if s.Kind != fleet.KindStatus || s.PrinterID != "printer-0001" || s.Status.PrinterID != "printer-0001" {
		t.Errorf("Scrub changed a vocabulary or the printer ID: %+v", s)
	}
	if s.Status.Activity != "[private] layer 2" {
		t.Errorf("Activity = %q", s.Status.Activity)
	}
	j := fleet.Record{Kind: fleet.KindJob, Job: &fleet.Job{Status: fleet.JobPrinting}}
	p := fleet.Record{Kind: fleet.KindPart, Part: &fleet.Part{Outcome: fleet.PartPending}}
	l := fleet.Record{Kind: fleet.KindLog, Log: &fleet.LogLine{Log: fleet.LogSession}}
	for _, r := range []*fleet.Record{&j, &p, &l} {
		v.Scrub(r)
	}
	if j.Job.Status != fleet.JobPrinting || p.Part.Outcome != fleet.PartPending || l.Log.Log != fleet.LogSession {
		t.Errorf("Scrub changed a vocabulary: %s %s %s", j.Job.Status, p.Part.Outcome, l.Log.Log)
	}
}

// TestScrubReachesEveryString fills every string of a record of every kind
// with a name and checks that Scrub replaced each one, so a field added to
// a record later is scrubbed without anyone remembering to.
func TestScrubReachesEveryString(t *testing.T) {
	n := NewNames(0)
	n.Add("Bracket")
	var rec fleet.Record
	paths := setStrings(reflect.ValueOf(&rec).Elem(), "Record", "x Bracket y")
	if len(paths) < 40 {
		t.Fatalf("only %d strings set: the filler no longer reaches the record's fields", len(paths))
	}
	n.Scrub(&rec)
	left := map[string]string{}
	collectStrings(reflect.ValueOf(rec), "Record", left)
	for path, s := range left {
		if s != "x [private] y" {
			t.Errorf("%s = %q after Scrub", path, s)
		}
	}
}

// setStrings sets every string reachable from v (allocating pointers, one
// element per slice, one entry per map) to s, except those Scrub leaves
// alone, and returns their paths.
func setStrings(v reflect.Value, path, s string) []string {
	switch v.Kind() {
	case reflect.String:
		if exempt(v.Type()) {
			return nil
		}
		v.SetString(s)
		return []string{path}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		return setStrings(v.Elem(), path, s)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		return setStrings(v.Index(0), path+"[0]", s)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k := reflect.New(v.Type().Key()).Elem()
		e := reflect.New(v.Type().Elem()).Elem()
		paths := append(setStrings(k, path+"{key}", s), setStrings(e, path+"{value}", s)...)
		v.SetMapIndex(k, e)
		return paths
	case reflect.Struct:
		var paths []string
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				paths = append(paths, setStrings(v.Field(i), path+"."+f.Name, s)...)
			}
		}
		return paths
	}
	return nil
}

// collectStrings records every string reachable from v by path, except
// those Scrub leaves alone.
func collectStrings(v reflect.Value, path string, out map[string]string) {
	switch v.Kind() {
	case reflect.String:
		if !exempt(v.Type()) {
			out[path] = v.String()
		}
	case reflect.Pointer:
		if !v.IsNil() {
			collectStrings(v.Elem(), path, out)
		}
	case reflect.Slice:
		for i := range v.Len() {
			collectStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			collectStrings(k, path+"{key}", out)
			collectStrings(v.MapIndex(k), path+"{value}", out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				collectStrings(v.Field(i), path+"."+f.Name, out)
			}
		}
	}
}

// Scrubbing text that names nobody allocates nothing.
func TestScrubAllocations(t *testing.T) {
	n := NewNames(0)
	for i := range 1000 {
		n.Add(fmt.Sprintf("Part-%04d", i), fmt.Sprintf("user%d", i))
	}
	rec := fleet.Record{Kind: fleet.KindEvent, Event: &fleet.Event{Code: "E-101",
		Description: "lamp 2 current low during layer 812", Details: "lamp 2: 0.4 A, want 2.1 A", Firmware: "1.2.3", Subsystem: "lamps"}}
	if allocs := testing.AllocsPerRun(100, func() { n.Scrub(&rec) }); allocs > 0 {
		t.Errorf("Scrub of a record that names nobody: %v allocations, want 0", allocs)
	}
}

// Concurrent Add and Scrub are safe. The window is larger than all names
// added, so no goroutine's name can be evicted by the others before it
// scrubs (eviction is tested on its own).
func TestNamesConcurrentUse(t *testing.T) {
	n := NewNames(1000)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				n.Add(fmt.Sprintf("job-%d-%d", g, i))
				rec := fleet.Record{Kind: fleet.KindLog, Log: &fleet.LogLine{Text: fmt.Sprintf("printing job-%d-%d", g, i)}}
				n.Scrub(&rec)
				if rec.Log.Text != "printing [private]" {
					t.Errorf("got %q", rec.Log.Text)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := n.Len(); got != 800 {
		t.Errorf("Len() = %d, want all 800 names", got)
	}
}

// containsFold reports whether name occurs in s, ignoring case, by a method
// independent of the one under test: rune by rune with strings.EqualFold.
func containsFold(s, name string) bool {
	sr, nr := []rune(s), []rune(name)
	for i := 0; i+len(nr) <= len(sr); i++ {
		ok := true
		for j := range nr {
			if !strings.EqualFold(string(sr[i+j]), string(nr[j])) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// scrubbed reports the names a Names holds after Add(names...): trimmed,
// long enough, and not part of the marker.
func scrubbed(names []string) []string {
	var out []string
	for _, s := range names {
		s = strings.TrimSpace(s)
		if utf8.RuneCountInString(s) >= MinNameRunes && !containsFold(redacted, s) {
			out = append(out, s)
		}
	}
	return out
}

// FuzzScrub: scrubbing never leaves a known name in any string of the
// record, and changes nothing but the file paths of a string that names
// nobody.
func FuzzScrub(f *testing.F) {
	f.Add("Bracket\njsmith", "printing Bracket for JSMITH", "Bracket-key")
	f.Add("abc\nte]]", "abc]x", "")
	f.Add("Größe\nſtop", "GRÖSSE GRÖßE STOP", "größe")
	f.Add("\xff\xfeab\nabc", "\xff\xfeabcabc", "ABC")
	f.Add("private\nriv\n[pr", "[private] riv", "x")
	f.Add("x", "/00", "")
	f.Fuzz(func(t *testing.T, names, text, key string) {
		list := strings.Split(names, "\n")
		n := NewNames(0)
		n.Add(list...)
		rec := fleet.Record{Kind: fleet.KindJob, PrinterID: "printer-0001", Job: &fleet.Job{
			ID: text, SourceApp: text, PartMaterials: []string{text, key},
			Warnings: []fleet.JobWarning{{Message: text}}, SubJobs: []fleet.SubJob{{Kind: key}},
		}}
		n.Scrub(&rec)
		c := fleet.Record{Kind: fleet.KindCounters, Counters: &fleet.Counters{AgentsConsumedML: map[string]float64{key: 1, text: 2}}}
		n.Scrub(&c)
		strs := map[string]string{}
		collectStrings(reflect.ValueOf(rec.Job), "Job", strs)
		collectStrings(reflect.ValueOf(c.Counters), "Counters", strs)
		known := scrubbed(list)
		for path, s := range strs {
			for _, name := range known {
				if containsFold(s, name) {
					t.Fatalf("%s = %q still holds %q", path, s, name)
				}
			}
		}
		for _, s := range []string{text, key} {
			names := false
			for _, name := range known {
				names = names || containsFold(s, name)
			}
			if want, _ := ScrubPaths(s); !names && n.ScrubString(s) != want {
				t.Errorf("ScrubString(%q) = %q, but it names nobody: want %q, its paths alone scrubbed", s, n.ScrubString(s), want)
			}
		}
		if rec.Job.ID != n.ScrubString(text) {
			t.Errorf("Scrub and ScrubString disagree on %q: %q vs %q", text, rec.Job.ID, n.ScrubString(text))
		}
	})
}
