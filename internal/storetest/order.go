package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/fleetquery"
	"github.com/google/go-cmp/cmp"
)

// orderEnvelopes are four envelopes of gateway gw of org's site, about
// printers <prefix>1 and <prefix>2, whose records a later envelope
// supersedes in part and an earlier one in part: every kind, newer and
// older reports of the same thing, a layer and a log line resent.
func orderEnvelopes(org fleet.OrgID, site fleet.SiteID, gw fleet.GatewayID, prefix string) []fleet.Envelope {
	p1, p2 := fleet.PrinterID(prefix+"1"), fleet.PrinterID(prefix+"2")
	m := func(n int) time.Time { return T0.Add(time.Duration(n) * time.Minute) }
	return []fleet.Envelope{
		Env(org, site, gw,
			IdentityRecord(1, p1, "Jet one", m(0)), IdentityRecord(2, p2, "Jet two", m(0)),
			StatusRecord(3, p1, fleet.StatePrinting, m(1)),
			JobRecord(4, p1, "job-1", fleet.JobPrinting, m(0), m(1)),
			PartRecord(5, p1, "job-1", "part-1", fleet.PartPending, m(1)),
			LayerRecord(6, p1, "job-1", 1, m(1)), LayerRecord(7, p1, "job-1", 2, m(2)),
			CountersRecord(8, p1, 10, m(1)), ConsumablesRecord(9, p1, 40, m(1)),
			EventRecord(10, p1, "LAMP-1", m(1)),
			LogRecord(11, p1, fleet.LogSession, "session opened", m(1)),
			GapRecord(12, p2, m(1))),
		Env(org, site, gw,
			StatusRecord(13, p1, fleet.StateIdle, m(5)), StatusRecord(14, p2, fleet.StateCooling, m(2)),
			JobRecord(15, p1, "job-1", fleet.JobCompleted, m(0), m(120)),
			PartRecord(16, p1, "job-1", "part-1", fleet.PartPass, m(120)),
			LayerRecord(7, p1, "job-1", 2, m(2)), LayerRecord(17, p1, "job-1", 3, m(3)),
			CountersRecord(18, p1, 12, m(10)), EventRecord(19, p2, "DOOR-OPEN", m(2))),
		Env(org, site, gw,
			IdentityRecord(20, p1, "Jet one renamed", m(60)),
			StatusRecord(21, p1, fleet.StatePrinting, m(3)), // older than 13's
			CountersRecord(22, p1, 11, m(2)), ConsumablesRecord(23, p1, 41, m(30)),
			LayerRecord(24, p1, "job-1", 4, m(4)),
			LogRecord(11, p1, fleet.LogSession, "session opened", m(1)),
			LogRecord(25, p2, fleet.LogPrinthead, "printhead 1 ok", m(2))),
		Env(org, site, gw,
			JobRecord(26, p1, "job-1", fleet.JobFailed, m(0), m(10)), // older than 15's
			PartRecord(27, p1, "job-1", "part-1", fleet.PartWarp, m(10)),
			JobRecord(28, p2, "job-2", fleet.JobPrinting, m(2), m(2)),
			StatusRecord(29, p2, fleet.StatePrinting, m(60))),
	}
}

// testApplyOrderIrrelevant applies the same envelopes in four orders —
// as sent, backwards and each twice, all at once, and shuffled in one
// ApplyEnvelopes — each for an organisation of its own, and requires the
// same reads from all four: what is kept does not depend on the order in
// which a gateway's envelopes arrive, so consumers may apply them
// concurrently and out of order.
func testApplyOrderIrrelevant(t *testing.T, db IngestStore) {
	ctx := t.Context()
	type tenantOf struct {
		org    fleet.OrgID
		site   fleet.SiteID
		gw     fleet.GatewayID
		prefix string
	}
	var tenants []tenantOf
	for _, name := range []string{"InOrder", "Backwards", "AtOnce", "Batch"} {
		org, site := tenant(t, db, name)
		tenants = append(tenants, tenantOf{org, site, fleet.GatewayID("gw_" + name), "printer-" + name + "-"})
	}
	envsOf := func(k int) []fleet.Envelope {
		return orderEnvelopes(tenants[k].org, tenants[k].site, tenants[k].gw, tenants[k].prefix)
	}
	// applyRetrying applies env as the SQL writer does: a retryable error
	// (two writers creating one printer at once) means redelivery.
	applyRetrying := func(env fleet.Envelope) error {
		var err error
		for range 10 {
			if _, err = db.ApplyEnvelope(ctx, env); err == nil {
				return nil
			}
		}
		return err
	}
	for _, env := range envsOf(0) {
		if err := applyRetrying(env); err != nil {
			t.Fatal(err)
		}
	}
	backwards := envsOf(1)
	slices.Reverse(backwards)
	for _, env := range backwards {
		for range 2 {
			if err := applyRetrying(env); err != nil {
				t.Fatal(err)
			}
		}
	}
	atOnce := envsOf(2)
	for _, err := range race(len(atOnce), func(i int) error { return applyRetrying(atOnce[i]) }) {
		if err != nil {
			t.Fatal(err)
		}
	}
	batch := envsOf(3)
	batch = []fleet.Envelope{batch[2], batch[0], batch[3], batch[1], batch[0]}
	applied, rejected, err := db.ApplyEnvelopes(ctx, batch)
	if err != nil || errors.Join(rejected...) != nil {
		t.Fatalf("ApplyEnvelopes = %v, %v, %v", applied, rejected, err)
	}
	if got, want := applied, []int{7, 11, 4, 7, 0}; !slices.Equal(got, want) {
		t.Errorf("ApplyEnvelopes applied %v, want %v (each record once)", got, want)
	}

	// reads is what an organisation's dashboard shows of its printers,
	// with its own names replaced by the same placeholders.
	reads := func(k int) string {
		tn := tenants[k]
		var out []any
		add := func(v any, err error) {
			if err != nil {
				t.Fatalf("%s: %v", tn.org, err)
			}
			out = append(out, v)
		}
		add(db.Printers(ctx, tn.org))
		add(db.Jobs(ctx, tn.org, fleetquery.JobFilter{}))
		far := T0.Add(24 * time.Hour)
		for _, n := range []string{"1", "2"} {
			p := fleet.PrinterID(tn.prefix + n)
			add(db.PrinterDetail(ctx, tn.org, p))
			add(db.CountersHistory(ctx, tn.org, p, T0.Add(-time.Hour), far))
			add(db.ConsumablesHistory(ctx, tn.org, p, T0.Add(-time.Hour), far))
			add(db.Events(ctx, tn.org, p, T0.Add(-time.Hour), far, 100))
			for _, l := range []fleet.LogKind{fleet.LogSession, fleet.LogPrinthead} {
				add(db.Logs(ctx, tn.org, p, l, T0.Add(-time.Hour), far, 100))
			}
			for _, job := range []string{"job-1", "job-2"} {
				add(db.JobParts(ctx, tn.org, p, job))
				add(db.JobLayers(ctx, tn.org, p, job))
			}
		}
		data, err := json.MarshalIndent(out, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		return strings.NewReplacer(string(tn.org), "ORG", string(tn.site), "SITE", string(tn.gw), "GW",
			tn.prefix, "printer-", strings.TrimPrefix(tn.prefix, "printer-"), "").Replace(string(data))
	}
	want := reads(0)
	if !strings.Contains(want, "Jet one renamed") || !strings.Contains(want, `"Completed"`) && !strings.Contains(want, "completed") {
		t.Fatalf("in order: the newest reports are not shown:\n%s", want)
	}
	for k, name := range []string{"backwards, each twice", "all at once", "shuffled in one batch"} {
		if diff := cmp.Diff(want, reads(k+1)); diff != "" {
			t.Errorf("%s: reads differ from the envelopes applied in order (-in order +%s):\n%s", name, name, diff)
		}
	}
}

// testApplyManyPrintersInOneBatch applies the status, counters and
// events of 150 printers from three gateways — more rows than one
// multi-row statement takes, a printer's reports in several envelopes,
// newer and older — for one organisation one envelope at a time, and for
// another in one ApplyEnvelopes, and requires the same reads.
func testApplyManyPrintersInOneBatch(t *testing.T, db IngestStore) {
	ctx := t.Context()
	const printers = 150
	m := func(n int) time.Time { return T0.Add(time.Duration(n) * time.Minute) }
	type tenantOf struct {
		org    fleet.OrgID
		site   fleet.SiteID
		prefix string
	}
	envsOf := func(tn tenantOf) []fleet.Envelope {
		var envs []fleet.Envelope
		for g := range 3 {
			gw := fleet.GatewayID(fmt.Sprintf("gw_many_%s_%d", tn.org, g))
			for round := range 2 {
				var recs []fleet.Record
				seq := uint64(round * 1000)
				for i := g; i < printers; i += 3 {
					p := fleet.PrinterID(fmt.Sprintf("%s%03d", tn.prefix, i))
					at := m(10 - 7*round + i%5) // the second round older for some printers, newer for others
					st := []fleet.State{fleet.StateIdle, fleet.StatePrinting, fleet.StateError}[(i+round)%3]
					seq++
					recs = append(recs, StatusRecord(seq, p, st, at))
					seq++
					recs = append(recs, CountersRecord(seq, p, int64(10*round+i), at))
					if i%4 == round {
						seq++
						recs = append(recs, EventRecord(seq, p, fmt.Sprintf("E-%d", round), at))
					}
				}
				envs = append(envs, Env(tn.org, tn.site, gw, recs...))
			}
		}
		return envs
	}
	var tenants []tenantOf
	for _, name := range []string{"ManyOneByOne", "ManyBatch"} {
		org, site := tenant(t, db, name)
		tenants = append(tenants, tenantOf{org, site, "printer-" + name + "-"})
	}
	for _, env := range envsOf(tenants[0]) {
		if _, err := db.ApplyEnvelope(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	batch := envsOf(tenants[1])
	applied, rejected, err := db.ApplyEnvelopes(ctx, batch)
	if err != nil || errors.Join(rejected...) != nil {
		t.Fatalf("ApplyEnvelopes = %v, %v, %v", applied, rejected, err)
	}
	for i, env := range batch {
		if applied[i] != len(env.Records) {
			t.Errorf("envelope %d: applied %d, want %d", i, applied[i], len(env.Records))
		}
	}
	reads := func(tn tenantOf) string {
		var out []any
		add := func(v any, err error) {
			if err != nil {
				t.Fatalf("%s: %v", tn.org, err)
			}
			out = append(out, v)
		}
		add(db.Printers(ctx, tn.org))
		far := T0.Add(24 * time.Hour)
		for i := range printers {
			p := fleet.PrinterID(fmt.Sprintf("%s%03d", tn.prefix, i))
			add(db.PrinterDetail(ctx, tn.org, p))
			add(db.CountersHistory(ctx, tn.org, p, T0.Add(-time.Hour), far))
			add(db.Events(ctx, tn.org, p, T0.Add(-time.Hour), far, 100))
		}
		data, err := json.MarshalIndent(out, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		return strings.NewReplacer(string(tn.org), "ORG", string(tn.site), "SITE", tn.prefix, "printer-").Replace(string(data))
	}
	want := reads(tenants[0])
	if !strings.Contains(want, "E-1") || !strings.Contains(want, "E-0") {
		t.Fatalf("one by one: the events are not shown:\n%.2000s", want)
	}
	if diff := cmp.Diff(want, reads(tenants[1])); diff != "" {
		t.Errorf("reads differ (-one by one +one batch):\n%s", diff)
	}
}
