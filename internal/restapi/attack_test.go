package restapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/kpi"
	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	"github.com/google/go-cmp/cmp"
)

// The benchmark attacks play organisation A's users against the real
// store (SQLite and PostgreSQL) through the REST API. The cohort is six
// other organisations with printers of A's model M1 and jobs in February,
// the last complete month at t0 (1 March): their packing densities are
// attackDensities percent, at least 4 points apart. Learning a member's
// value means telling it within kpi's tolerance (1 point) from what the
// API answers; the tests show answers that stay the same, to the byte,
// while what the attacker wants to learn changes.

// attackDensities are the cohort's packing densities in percent.
var attackDensities = []float64{14.2, 19.7, 26.1, 31.4, 37.9, 44.3}

// forEachStore runs test on a fixture over SQLite and over PostgreSQL
// (skipped without a server, failed under CI).
func forEachStore(t *testing.T, test func(t *testing.T, open func(t *testing.T) *fixture)) {
	for _, d := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "cloud.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.FreshDB(t) }},
	} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			test(t, func(t *testing.T) *fixture { return newFixtureAt(t, d.dsn(t)) })
		})
	}
}

// member is a cohort organisation: its printers of model M1, first seen
// at at, the first of them printing three jobs from at with a packing
// density of density percent.
func (f *fixture) member(t *testing.T, name string, density float64, printers int, at time.Time) (fleet.OrgID, fleet.SiteID) {
	t.Helper()
	org, err := f.db.CreateOrg(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	site, err := f.db.CreateSite(t.Context(), org, name+" plant")
	if err != nil {
		t.Fatal(err)
	}
	f.memberPrints(t, org, site, name, density, printers, at)
	return org, site
}

// memberPrints adds printers of model M1 to a site, the first printing
// three jobs of density percent from at.
func (f *fixture) memberPrints(t *testing.T, org fleet.OrgID, site fleet.SiteID, name string, density float64, printers int, at time.Time) {
	t.Helper()
	var recs []fleet.Record
	first := fleet.PrinterID("")
	for i := range printers {
		f.seq++
		p := fleet.PrinterID(fmt.Sprintf("%s-%d-%d", name, at.Unix(), i))
		r := storetest.IdentityRecord(f.seq, p, string(p), at)
		r.Identity.Model = "M1"
		recs = append(recs, r)
		if first == "" {
			first = p
		}
	}
	for k := range 3 {
		f.seq++
		recs = append(recs, storetest.KPIJobRecord(f.seq, first, fmt.Sprintf("%s-%d-j%d", name, at.Unix(), k), "PA12",
			at.Add(time.Duration(k)*24*time.Hour+time.Hour), 2, 1, density/100, 100))
	}
	if _, err := f.db.ApplyEnvelope(t.Context(), fleet.Envelope{OrgID: org, SiteID: site, GatewayID: fleet.GatewayID("gw_" + string(site)), Records: recs}); err != nil {
		t.Fatal(err)
	}
}

// cohort seeds the six members with densities in February and returns
// their organisations and sites.
func (f *fixture) cohort(t *testing.T, densities []float64) ([]fleet.OrgID, []fleet.SiteID) {
	t.Helper()
	feb := time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)
	var orgs []fleet.OrgID
	var sites []fleet.SiteID
	for i, d := range densities {
		org, site := f.member(t, fmt.Sprintf("member%d", i), d, 1, feb)
		orgs, sites = append(orgs, org), append(sites, site)
	}
	return orgs, sites
}

// benchmarks is what secret reads of the benchmark of M1 over every
// period, without the caller's own values: the cohort's side alone.
func (f *fixture) benchmarks(t *testing.T, secret string) map[string][]kpi.Band {
	t.Helper()
	out := map[string][]kpi.Band{}
	for _, period := range kpi.BenchmarkPeriods {
		status, body := f.do(t, http.MethodGet, "/api/v1/benchmark?model=M1&period="+period, secret, "")
		if status != http.StatusOK {
			t.Fatalf("benchmark %s: %d %s", period, status, body)
		}
		var got benchmarkJSON
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		for i := range got.Bands {
			got.Bands[i].You, got.Bands[i].YouOK = 0, false
		}
		out[period] = got.Bands
	}
	return out
}

// TestBenchmarkAttacks: what an organisation changes, what a victim does
// in the running month, and how the attacker narrows its own side leave
// the cohort's answer as it was.
func TestBenchmarkAttacks(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) *fixture) {
		feb := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
		for _, tt := range []struct {
			name   string
			reader string // the attacker's principal reading after the change
			change func(t *testing.T, f *fixture, orgs []fleet.OrgID, sites []fleet.SiteID)
		}{
			{"VictimPrintsThisMonth", "admin", func(t *testing.T, f *fixture, orgs []fleet.OrgID, sites []fleet.SiteID) {
				f.memberPrints(t, orgs[3], sites[3], "victim-now", 90, 1, t0.Add(-11*time.Hour))
			}},
			{"VictimAddsPrinters", "admin", func(t *testing.T, f *fixture, orgs []fleet.OrgID, sites []fleet.SiteID) {
				f.memberPrints(t, orgs[3], sites[3], "victim-more", 31.4, 5, t0)
			}},
			{"VictimJoinsThisMonth", "admin", func(t *testing.T, f *fixture, _ []fleet.OrgID, _ []fleet.SiteID) {
				f.member(t, "newcomer", 80, 3, t0.Add(-11*time.Hour))
			}},
			{"AttackerGrowsItsFleetLastMonth", "admin", func(t *testing.T, f *fixture, _ []fleet.OrgID, _ []fleet.SiteID) {
				site, err := f.db.CreateSite(t.Context(), f.a.org, "attacker third")
				if err != nil {
					t.Fatal(err)
				}
				f.memberPrints(t, f.a.org, site, "attacker", 95, 4, feb)
			}},
			{"AttackerNarrowsToOneSite", "limited", func(t *testing.T, f *fixture, _ []fleet.OrgID, _ []fleet.SiteID) {
				f.memberPrints(t, f.a.org, f.a.site2, "attacker-site2", 5, 1, feb)
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				f := open(t)
				orgs, sites := f.cohort(t, attackDensities)
				before := f.benchmarks(t, f.a.tokens["admin"])
				if before["1m"][0].TooSmall {
					t.Fatalf("the cohort of six has no bands: %+v", before["1m"])
				}
				tt.change(t, f, orgs, sites)
				if diff := cmp.Diff(before, f.benchmarks(t, f.a.tokens[tt.reader])); diff != "" {
					t.Errorf("the cohort's answer moved (-before +after):\n%s", diff)
				}
			})
		}
	})
}

// TestBenchmarkVictimUndetermined: a victim's February value moved by 1.5
// points, with the other members moved by the pattern that keeps every
// window of three (see kpi.Window), gives the attacker the same answers
// over every period: it cannot tell the victim's value within a point.
func TestBenchmarkVictimUndetermined(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) *fixture) {
		f := open(t)
		f.cohort(t, attackDensities)
		want := f.benchmarks(t, f.a.tokens["admin"])
		for _, victim := range []int{0, 2, 5} {
			t.Run(fmt.Sprint(victim), func(t *testing.T) {
				const d = 1.5
				alt := make([]float64, len(attackDensities))
				for k, v := range attackDensities {
					switch (k - victim + 2*kpi.Window) % kpi.Window {
					case 0:
						alt[k] = v + d
					case 1:
						alt[k] = v - d
					default:
						alt[k] = v
					}
				}
				g := open(t)
				g.cohort(t, alt)
				if diff := cmp.Diff(want, g.benchmarks(t, g.a.tokens["admin"])); diff != "" {
					t.Errorf("the victim at %g%% instead of %g%% shows (-was +now):\n%s", alt[victim], attackDensities[victim], diff)
				}
			})
		}
	})
}
