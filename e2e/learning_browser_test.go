package e2e

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/dashboard"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/identity"
	"github.com/fusionfleet/fusionfleet/internal/learn"
	"github.com/fusionfleet/fusionfleet/internal/store"
)

// An engineer reviews a proposed parameter set on the Learning page and
// clicks approve: the page then offers the set file and the exact release
// command, and no longer the button. Nothing is released by the click.
func TestApproveProposalInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	t.Parallel()
	ctx := browser(t)
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "cloud.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org, err := st.CreateOrg(t.Context(), "Acme")
	if err != nil {
		t.Fatal(err)
	}
	const password = "a long enough passphrase"
	hash, err := identity.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(t.Context(), org, "eve", hash, fleet.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	m := learn.Model{Version: 1, TrainedAt: now, Models: []string{"FF-4200"}, Materials: []string{"TPU"}, Features: []string{"intercept"}, Coef: []float64{-1},
		Data: learn.DataDescription{Builds: 900, Parts: 11000, From: now.AddDate(0, -6, 0), To: now,
			Cohorts: []learn.Cohort{{Key: learn.CohortKey{Model: "FF-4200", Material: "TPU", Mode: "balanced", LayerUM: 100}, Orgs: 6, Builds: 900, Parts: 11000, Used: true}}},
		Held: learn.Accuracy{Builds: 180, R2: 0.43, MAE: 0.15}}
	if err := st.SaveLearnModel(t.Context(), learn.StoredModel{Model: m, Promoted: true, Reason: "no model in service"}); err != nil {
		t.Fatal(err)
	}
	params := fleet.MaterialParameters{PrintMode: "robust", LayerThicknessMM: 0.1}
	if err := st.SaveLearnProposal(t.Context(), learn.SetProposal{ID: "v1-FF-4200", ModelVersion: 1, PrinterModel: "FF-4200", Created: now,
		State: learn.ProposalOpen, Set: fleet.ParameterSet{Schema: fleet.ParameterSetSchema, Name: "learned-FF-4200-v1", Model: "FF-4200",
			Materials: map[string]fleet.MaterialParameters{"TPU": params}},
		Proposals: []learn.Proposal{{Model: "FF-4200", Material: "TPU", Status: learn.StatusProposed, Params: params, Builds: 900, Parts: 11000,
			Current: 0.37, Proposed: 0.11, Gain: 0.26, GainLow: 0.25, GainHigh: 0.28}}}); err != nil {
		t.Fatal(err)
	}
	h := dashboard.NewHandler(dashboard.Deps{Sessions: st, TwoFactor: st, Throttle: st, Members: st, Sites: st, Printers: st, WorstAlerts: st, Learning: st},
		dashboard.NewHub(), dashboard.Options{Clock: clock.NewManual(now)})
	srv := httptest.NewServer(h)
	defer srv.Close()

	b := &tab{t: t, ctx: ctx, dir: artefactDir(t), base: srv.URL + "/"}
	b.open("/login")
	b.fill("#name", "eve")
	b.fill("#password", password)
	b.load("log in", chromedp.Submit(chromedp.CSS("#password")))
	b.open("/learning")
	b.waitFor("the proposal", `document.querySelector('#proposal-v1-FF-4200 button.approve')`, stepLimit)
	b.shot("learning-proposed")
	b.submit(`#proposal-v1-FF-4200 button.approve`)
	b.waitFor("the approval", `document.querySelector('#approved-v1-FF-4200')`, stepLimit)
	cmd := read[string](b, "the release command", `document.querySelector('#proposal-v1-FF-4200 .release-command').textContent`)
	if !strings.Contains(cmd, "fusionfleet release add-target -dir REPOSITORY -kind parameters -version 10.1 -name learned-FF-4200-v1 -models FF-4200") {
		b.fail("release command %q", cmd)
	}
	if read[bool](b, "the button gone", `!!document.querySelector('#proposal-v1-FF-4200 button.approve')`) {
		b.fail("the approved proposal still offers approval")
	}
	got := read[string](b, "the set file", `(() => { const x = new XMLHttpRequest(); x.open('GET', document.querySelector('#proposal-v1-FF-4200 a[download]').href, false); x.send(); return x.status + ' ' + x.responseText; })()`)
	status, doc, _ := strings.Cut(got, " ")
	if set, err := fleet.ParseParameterSet([]byte(doc)); status != "200" || err != nil || set.Materials["TPU"] != params {
		b.fail("set file: %s %v %+v", status, err, set)
	}
	b.shot("learning-approved")
}
