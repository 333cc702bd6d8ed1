package benchsuite

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/ingestbench"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/sitebench"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/store/pagesbench"
	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
)

// Scenarios are the bench command's scenarios, in the order they run.
func Scenarios() []Scenario {
	return []Scenario{
		{
			Name: "ingest-stream", Summary: "uplink client (TLS, zstd, signing) → uplink handler → JetStream, 32 gateways",
			N: 400, QuickN: 16,
			Bench: func(b benchrun.B, _ Options) { ingestbench.Ingest(b) },
			Figures: []Figure{
				{Name: "uplink end to end", Metric: "uplink_e2e_rec/s", Unit: "records/s", Ref: "raw_sync_rec/s", RefName: "raw JetStream publish"},
				{Name: "uplink, cloud's share", Metric: "uplink_cloud_rec/s", Unit: "records/s", Ref: "raw_sync_rec/s", RefName: "raw JetStream publish"},
				{Name: "p99 ack at half load", Metric: "p99_ack_ms", Unit: "ms"},
			},
		},
		ingestSQL("sqlite", false),
		ingestSQL("sqlite", true),
		ingestSQL("postgres", false),
		ingestSQL("postgres", true),
		storeIngest("sqlite"),
		storeIngest("postgres"),
		pages("sqlite"),
		pages("postgres"),
		{
			Name: "poll", Summary: "one Command Center polling 2,000 printers at default cadences vs a bare keep-alive HTTPS poller",
			N: 1, QuickN: 1,
			Skip: func(o Options) string {
				if o.PrinterProcess == nil {
					return "no way to start the printers' process"
				}
				return ""
			},
			Bench: func(b benchrun.B, o Options) {
				po := commandcenter.PollFleetOptions{Printers: 2000, PrinterProcess: o.PrinterProcess}
				if o.Quick {
					po.Printers, po.Window, po.Settle = 20, 5*time.Second, 2*time.Second
				}
				commandcenter.PollFleet(b, po)
			},
			Figures: []Figure{
				{Name: "Command Center CPU", Metric: "cc_cores", Unit: "cores", Ref: "bare_cores", RefName: "cores, bare keep-alive poller",
					Target: Target{Ratio: true, AtMost: true, Bound: 1.5}},
				{Name: "Command Center CPU, absolute", Metric: "cc_cores", Unit: "cores", Target: Target{AtMost: true, Bound: 0.5, Unit: "cores"}},
				{Name: "CPU per printer-hour", Metric: "cc_cpu_ms/printer-hour", Unit: "ms"},
				{Name: "p99 poll → store", Metric: "p99_poll_ms", Unit: "ms", Target: Target{AtMost: true, Bound: 250, Unit: "ms"}},
				{Name: "latest poll start", Metric: "max_late_ms", Unit: "ms"},
				{Name: "memory", Metric: "MiB", Unit: "MiB"},
			},
		},
		{
			Name: "freshness", Summary: "a printer's change of state → the dashboard's live stream, 20 printers, default settings",
			N: 1, QuickN: 1,
			Bench: func(b benchrun.B, o Options) {
				var fo sitebench.FreshnessOptions
				if o.Quick {
					// Long enough for a few changes to reach the stream.
					fo.Printers, fo.Settle, fo.Window = 40, 6*time.Second, 8*time.Second
				}
				sitebench.Freshness(b, fo)
			},
			Figures: []Figure{
				{Name: "p50 state change → live stream", Metric: "p50_s", Unit: "s"},
				{Name: "p99 state change → live stream", Metric: "p99_s", Unit: "s", Target: Target{AtMost: true, Bound: 10, Unit: "s"}},
				{Name: "changes seen", Metric: "changes", Unit: ""},
			},
		},
		{
			Name: "uplink-bytes", Summary: "a 10-printer site's uplink bytes on the socket, real Command Center and cloud at 60x",
			N: 1, QuickN: 1,
			Bench: func(b benchrun.B, o Options) {
				var uo sitebench.UplinkOptions
				if o.Quick {
					uo.Warmup, uo.Hours = 2*time.Minute, 0.04
				}
				sitebench.UplinkBytes(b, uo)
			},
			Figures: []Figure{
				{Name: "bytes per printer-hour", Metric: "bytes/printer-hour", Unit: "B"},
				{Name: "10-printer site", Metric: "site-bit/s", Unit: "bit/s", RefValue: 25000, RefName: "bit/s budget",
					Target: Target{Ratio: true, AtMost: true, Bound: 1}},
				{Name: "connections", Metric: "connections/h", Unit: "per hour"},
			},
		},
		{
			Name: "printer-model", Summary: "virtual printers' process model: 200 printers over two simulated weeks",
			N: 3, QuickN: 1,
			Bench: func(b benchrun.B, _ Options) { printer.FleetBench(b) },
			Figures: []Figure{
				{Name: "CPU per printer-hour", Metric: "ns/printer-hour", Unit: "ns"},
				{Name: "1,000 printers at 60x", Metric: "cores@1000x60", Unit: "cores", Target: Target{AtMost: true, Bound: 1, Unit: "cores"}},
				{Name: "heap per printer", Metric: "bytes/printer", Unit: "B"},
			},
		},
	}
}

// ingestSQL is the end-to-end ingest into engine, layers only or the
// production mix.
func ingestSQL(engine string, mix bool) Scenario {
	records, bound := "layers", 0.5
	if mix {
		records, bound = "mix", 0.35
	}
	raw := "raw multi-row INSERT"
	var skip func(Options) string
	if engine == "postgres" {
		raw = "raw COPY"
		skip = func(o Options) string {
			if o.Postgres == "" {
				return "no PostgreSQL server given (--postgres URL)"
			}
			return ""
		}
	}
	return Scenario{
		Name:    "ingest-" + engine + "-" + records,
		Summary: "uplink → JetStream → SQL writer as the cloud wires it → rows committed in " + engine + " (" + records + ")",
		N:       400, QuickN: 16, Skip: skip,
		Bench: func(b benchrun.B, o Options) {
			eng := ingestbench.SQLite()
			if engine == "postgres" {
				eng = ingestbench.Engine{Name: engine, Fresh: postgresDB(o.Postgres)}
			}
			ingestbench.IngestSQL(b, eng, mix)
		},
		Figures: []Figure{
			{Name: "end to end, " + records, Metric: "e2e_rec/s", Unit: "records/s", Ref: "raw_rows/s", RefName: raw,
				Target: Target{Ratio: true, Bound: bound}},
			{Name: "writer without stream", Metric: "direct_rec/s", Unit: "records/s", Ref: "raw_rows/s", RefName: raw},
			{Name: "p99 send→commit flat out", Metric: "p99_commit_ms", Unit: "ms"},
			{Name: "p99 send→commit at half load", Metric: "half_p99_commit_ms", Unit: "ms",
				Target: Target{AtMost: true, Bound: 1000, Unit: "ms"}},
		},
	}
}

// storeIngest is the store's ingest of layer records alone, against the
// engine's raw writes of the same rows.
func storeIngest(engine string) Scenario {
	figures := []Figure{{Name: "ApplyEnvelope, layers", Metric: "store_rows/s", Unit: "rows/s", Ref: "insert_rows/s", RefName: "raw multi-row INSERT"}}
	var skip func(Options) string
	if engine == "postgres" {
		figures = append(figures, Figure{Name: "ApplyEnvelope, layers", Metric: "store_rows/s", Unit: "rows/s", Ref: "copy_rows/s", RefName: "raw COPY"})
		skip = func(o Options) string {
			if o.Postgres == "" {
				return "no PostgreSQL server given (--postgres URL)"
			}
			return ""
		}
	}
	return Scenario{
		Name: "store-ingest-" + engine, Summary: "the store's ApplyEnvelope of 1,000 layer records at a time in " + engine + ", beside raw writes",
		N: 200, QuickN: 10, Skip: skip,
		Bench: func(b benchrun.B, o Options) {
			dsn := ingestbench.SQLite().Fresh(b)
			if engine == "postgres" {
				dsn = postgresDB(o.Postgres)(b)
			}
			store.IngestBench(b, dsn)
		},
		Figures: figures,
	}
}

// pages is every dashboard page of an organisation of 100 printers in a
// fleet of 10,000 with a year of history, in engine: p50 and p99 server
// time of each against the login page's in the same run (the dashboard's
// floor: no fleet data), p50 within the project's page budget
// (storetest.PageBudget; the requirements name none). The quick run loads
// the read organisation's 100 printers alone.
func pages(engine string) Scenario {
	var skip func(Options) string
	if engine == "postgres" {
		skip = func(o Options) string {
			if o.Postgres == "" {
				return "no PostgreSQL server given (--postgres URL)"
			}
			return ""
		}
	}
	ref := "ms, " + pagesbench.Reference + " page"
	budget := float64(storetest.PageBudget / time.Millisecond)
	var figures []Figure
	for _, name := range pagesbench.PageNames() {
		if name == pagesbench.Reference {
			continue
		}
		refOf, refName := pagesbench.Reference, ref
		if pagesbench.Raw(name) {
			refOf, refName = name+"_raw", "ms, its main query alone, raw SQL"
		}
		figures = append(figures,
			Figure{Name: name + " p50", Metric: name + "_p50_ms", Unit: "ms", Ref: refOf + "_p50_ms", RefName: refName,
				Target: Target{AtMost: true, Bound: budget, Unit: "ms"}},
			Figure{Name: name + " p99", Metric: name + "_p99_ms", Unit: "ms", Ref: refOf + "_p99_ms", RefName: refName})
	}
	return Scenario{
		Name: "pages-" + engine, Summary: "every dashboard page, 100 printers of a 10,000-printer fleet with a year of history, in " + engine,
		N: 20, QuickN: 2, Skip: skip,
		Bench: func(b benchrun.B, o Options) {
			dsn := filepath.Join(b.TempDir(), "cloud.db")
			if engine == "postgres" {
				dsn = postgresDB(o.Postgres)(b)
			}
			var po pagesbench.Options
			if o.Quick {
				po.Orgs = 1
			}
			pagesbench.Pages(b, dsn, po)
		},
		Figures: figures,
	}
}

// postgresDB makes a fresh database on the server of admin for each call,
// dropped when the run ends.
func postgresDB(admin string) func(b benchrun.B) string {
	return func(b benchrun.B) string {
		b.Helper()
		u, drop, err := pgtest.Create(b.Context(), admin)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := drop(ctx); err != nil {
				b.Error(err)
			}
		})
		return u
	}
}
