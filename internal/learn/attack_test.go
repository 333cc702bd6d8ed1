package learn

import (
	"fmt"
	"testing"
)

// TestAttackDominatedCohort plays an organisation that reads the
// learning loop's proposals to learn another's outcomes: in a cohort of
// MinCohort organisations where one prints far more than the rest, the
// fit and a proposal's defective share now would be that organisation's.
// Before the rule, a cohort of five organisations with 4 builds each and
// one with 60 trained on 80 builds, 75% of them the one organisation's.
func TestAttackDominatedCohort(t *testing.T) {
	for _, tt := range []struct {
		big    int
		used   bool
		reason string
	}{
		{big: 60, used: false, reason: ReasonDominated},
		{big: 21, used: false, reason: ReasonDominated},
		{big: 20, used: true},
		{big: 4, used: true},
	} {
		t.Run(fmt.Sprint(tt.big), func(t *testing.T) {
			outs := oneCohort(synth(1, 5, 4))
			for _, o := range oneCohort(synth(2, 1, tt.big)) {
				o.Org = "org-big"
				outs = append(outs, o)
			}
			tab := Anonymise(outs)
			if len(tab.Cohorts) != 1 || tab.Cohorts[0].Orgs != 6 || tab.Cohorts[0].Used != tt.used {
				t.Fatalf("cohorts %+v, want one of 6 organisations used %t", tab.Cohorts, tt.used)
			}
			want := 0
			if tt.used {
				want = 20 + tt.big
			}
			if len(tab.Builds) != want || tab.Excluded[ReasonDominated] != 20+tt.big-want {
				t.Errorf("%d builds trained, %d excluded as dominated; want %d and %d", len(tab.Builds), tab.Excluded[ReasonDominated], want, 20+tt.big-want)
			}
		})
	}
}
