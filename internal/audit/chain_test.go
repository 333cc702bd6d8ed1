package audit

import (
	"testing"
	"time"
)

// TestHashSeparatesFields moves bytes across a field boundary: the
// encoding is length-prefixed, so the hash changes.
func TestHashSeparatesFields(t *testing.T) {
	at := time.Unix(100, 5).UTC()
	a := Chain(Head{}, Event{Time: at, Org: "org_a", Name: "ab", Action: "c"})
	b := Chain(Head{}, Event{Time: at, Org: "org_a", Name: "a", Action: "bc"})
	if a.Hash == b.Hash {
		t.Fatal("two different entries hash alike")
	}
	if a.Seq != 1 || a.Prev != Genesis {
		t.Errorf("first entry: seq %d prev %s, want 1 and the genesis", a.Seq, a.Prev)
	}
	c := Chain(Head{Org: "org_a", Seq: a.Seq, Hash: a.Hash}, Event{Time: at, Org: "org_a", Action: "login"})
	if c.Seq != 2 || c.Prev != a.Hash || c.Hash != c.ComputeHash() {
		t.Errorf("second entry: %+v", c)
	}
}

func TestVerifierFindsGapsAndLinks(t *testing.T) {
	at := time.Unix(100, 0).UTC()
	var xs []Entry
	h := Head{Org: "org_a"}
	for range 4 {
		x := Chain(h, Event{Time: at, Org: "org_a", Action: "login"})
		xs = append(xs, x)
		h = Head{Org: "org_a", Seq: x.Seq, Hash: x.Hash}
	}
	tests := []struct {
		name    string
		entries []Entry
		stored  *Head
		anchors []Head
		want    []ProblemKind
	}{
		{"whole", xs, &h, []Head{h}, nil},
		{"gap", []Entry{xs[0], xs[2], xs[3]}, &h, nil, []ProblemKind{Removed, Broken}},
		{"cut", xs[:2], &h, nil, []ProblemKind{HeadMismatch}},
		{"cut, head moved, anchored", xs[:2], &Head{Org: "org_a", Seq: 2, Hash: xs[1].Hash}, []Head{h}, []ProblemKind{AnchorMismatch}},
		{"no head", xs, nil, nil, []ProblemKind{HeadMismatch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier("org_a", tt.anchors)
			for _, x := range tt.entries {
				v.Add(x)
			}
			var got []ProblemKind
			for _, p := range v.Finish(tt.stored) {
				got = append(got, p.Kind)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("problems %v, want %v", got, tt.want)
				}
			}
		})
	}
}
