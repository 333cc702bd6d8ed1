package ingestbench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/alert"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
	"github.com/fusionfleet/fusionfleet/internal/stream"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

var (
	soakPrinters = flag.Int("soak.printers", 10_000, "BenchmarkIngestSoak: printers, ten to a gateway")
	soakDuration = flag.Duration("soak.duration", time.Minute, "BenchmarkIngestSoak: how long the traffic runs")
	soakEngine   = flag.String("soak.engine", "sqlite", "BenchmarkIngestSoak: sqlite or postgres")
	soakOne      = flag.Bool("soak.one", false, "BenchmarkIngestSoak: the SQL writer consumes one message at a time, as before batches")
)

// soakInterval is how often each gateway uploads: what the Command
// Center's uploader does with a steady trickle of records.
const soakInterval = 10 * time.Second

// soakLogEvery is how often the soak logs its backlog, lags and CPU.
const soakLogEvery = 30 * time.Second

// soakSites is how many sites the gateways are spread over (several
// gateways, one per hall, may serve a site).
const soakSites = 100

// gauges keeps the last value of each consumer's lag.
type gauges struct {
	mu sync.Mutex
	v  map[string]float64
}

type gauge struct {
	g    *gauges
	name string
}

func (g gauge) Set(v float64) {
	g.g.mu.Lock()
	g.g.v[g.name] = v
	g.g.mu.Unlock()
}

func (g *gauges) get(name string) float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.v[name]
}

type quietNotifier struct{}

func (quietNotifier) Notify(context.Context, fleet.Alert) error { return nil }

// placesOf is the benchmark's gateways with the store's printer places,
// for the uplink handler.
type placesOf struct {
	register
	db *store.DB
}

func (p placesOf) PrinterPlaces(ctx context.Context, org fleet.OrgID, devices []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, error) {
	return p.db.PrinterPlaces(ctx, org, devices)
}

// BenchmarkIngestSoak runs the steady traffic of -soak.printers printers
// (ten to a gateway, the production mix of mixSite) for -soak.duration
// into one node's ingest, wired as the cloud node wires it: the uplink
// handler over TLS with the store's printer checks, the embedded
// JetStream, the SQL writer and the alert evaluator (both ConsumeBatches;
// with -soak.one Consume, one message at a time, as before), on
// SQLite or, with -soak.engine postgres, PostgreSQL. Every
// gateway uploads its last ten seconds of records every ten seconds,
// spread evenly; the gateways' encoding, compression, signing and TLS run
// on the same cores. It reports the offered and committed records/s, the
// backlog (records uploaded and not yet committed) at a third of the run,
// at its end and at most, the alert evaluator's and the writer's
// consumer lag (messages) at the end, the uploads' p99, the p99 from an
// upload's start to its records' commit (commit_p99_ms), the share that
// left late and the share the cloud refused (busy: a Command Center sends
// them again later), the CPU the process used (cores), and the load
// average. A
// flat backlog: backlog_end not above backlog_third, both about one
// interval's records or less.
//
//	go test -run '^$' -bench IngestSoak -benchtime 1x -timeout 30m ./internal/ingestbench \
//		-args -soak.printers 100000 -soak.duration 10m -soak.engine sqlite
func BenchmarkIngestSoak(b *testing.B) {
	for range b.N {
		soak(b)
	}
}

func soak(b *testing.B) {
	ctx := b.Context()
	lags := &gauges{v: map[string]float64{}}
	st, err := stream.Open(ctx, stream.Options{Dir: b.TempDir(), Metrics: stream.Metrics{
		Pending: func(c string) stream.Gauge { return gauge{lags, c} },
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	dsn := filepath.Join(b.TempDir(), "cloud.db")
	if *soakEngine == "postgres" {
		dsn = pgtest.FreshDB(b)
	}
	db, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.EnsurePartitions(ctx, time.Now()); err != nil {
		b.Fatal(err)
	}
	org, err := db.CreateOrg(ctx, "Soak")
	if err != nil {
		b.Fatal(err)
	}
	var sites []fleet.SiteID
	for i := range soakSites {
		s, err := db.CreateSite(ctx, org, fmt.Sprintf("Plant %d", i))
		if err != nil {
			b.Fatal(err)
		}
		sites = append(sites, s)
	}
	type gw struct {
		cred uplink.Credentials
		site *mixSite
		seq  uint64
		due  time.Time
	}
	reg := register{}
	nGW := max(1, *soakPrinters/sqlPrinters)
	gws := make([]*gw, nGW)
	start := time.Now().Add(2 * time.Second)
	for i := range gws {
		pub, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		id := fleet.GatewayID(fmt.Sprintf("gw-%06d", i))
		reg[id] = fleet.Gateway{ID: id, OrgID: org, SiteID: sites[i%len(sites)], Name: string(id), PublicKey: pub}
		printers := make([]fleet.PrinterID, sqlPrinters)
		for k := range printers {
			printers[k] = fleet.PrinterID(fmt.Sprintf("%s-p%02d", id, k))
		}
		due := start.Add(soakInterval * time.Duration(i) / time.Duration(nGW))
		gws[i] = &gw{cred: uplink.Credentials{GatewayID: id, Key: key}, due: due,
			site: &mixSite{printers: printers, at: due.Add(-soakInterval).Truncate(time.Second)}}
	}
	places := placesOf{reg, db}
	h := uplink.NewHandler(places, places, st, uplink.HandlerOptions{MaxMessageBytes: st.MaxPayload()})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	clients := make([]*uplink.Client, 8)
	for i := range clients {
		if clients[i], err = uplink.NewClient(srv.URL, uplink.ClientOptions{RootCAs: pool}); err != nil {
			b.Fatal(err)
		}
	}

	committed := &committed{Store: db, sent: map[string]time.Time{}}
	w := ingest.NewWriter(committed, st, ingest.Options{})
	ev := alert.NewEvaluator(db, quietNotifier{}, alert.Options{})
	cctx, cancel := context.WithCancel(ctx)
	var consumers sync.WaitGroup
	appliers := db.Appliers() // as the node runs them
	if *soakOne {
		appliers = 1
	}
	for range appliers {
		consumers.Go(func() {
			consume := wirings[1].consume
			if *soakOne {
				consume = wirings[0].consume
			}
			if err := consume(cctx, st, w); err != nil {
				b.Error(err)
			}
		})
	}
	consumers.Go(func() {
		var err error
		if *soakOne {
			err = st.Consume(cctx, "alerts", ev.Handle)
		} else {
			err = st.ConsumeBatches(cctx, "alerts", stream.Batch{Messages: 64, Bytes: 1 << 20}, ev.HandleBatch) // as internal/cloud's newAlerts
		}
		if err != nil {
			b.Error(err)
		}
	})
	defer consumers.Wait()
	defer cancel()

	// Gateways fall due in turn; workers upload what is due.
	var sent, late, refused atomic.Int64
	var latMu sync.Mutex
	var lat []time.Duration
	due := make(chan *gw, 1024)
	var workers sync.WaitGroup
	for i := range 128 {
		workers.Go(func() {
			c := clients[i%len(clients)]
			for g := range due {
				if time.Since(g.due) > soakInterval/2 {
					late.Add(1)
				}
				recs := g.site.window(g.seq, g.due)
				if len(recs) == 0 {
					continue
				}
				g.seq += uint64(len(recs))
				began := time.Now()
				committed.markSent(g.cred.GatewayID, recs[0].Seq)
				if _, err := c.Upload(ctx, g.cred, uplink.Batch{Records: recs}); err != nil {
					// Refused (the cloud busy: 429) or failed: a Command
					// Center would send them again later; here they count.
					if refused.Add(1) == 1 {
						b.Logf("first refused upload, of %s: %v", g.cred.GatewayID, err)
					}
					continue
				}
				sent.Add(int64(len(recs)))
				latMu.Lock()
				lat = append(lat, time.Since(began))
				latMu.Unlock()
			}
		})
	}
	cpu0, began := cpuTime(), time.Now()
	end := start.Add(*soakDuration)
	var third, maxBacklog int64
	sampled := false
	nextSample := start.Add(*soakDuration / 3)
	nextLog := start.Add(soakLogEvery)
	for i := 0; ; i = (i + 1) % len(gws) {
		g := gws[i]
		if !g.due.Before(end) {
			break
		}
		time.Sleep(time.Until(g.due)) // the gateways' real-time schedule: the load is the figure
		due <- g
		g.due = g.due.Add(soakInterval)
		if backlog := sent.Load() - committed.records.Load(); backlog > maxBacklog {
			maxBacklog = backlog
		}
		if !sampled && time.Now().After(nextSample) {
			third, sampled = sent.Load()-committed.records.Load(), true
		}
		if time.Now().After(nextLog) {
			b.Logf("after %3.0f s: backlog %d records, writer lag %.0f messages, alerts lag %.0f messages, %.2f cores",
				time.Since(began).Seconds(), sent.Load()-committed.records.Load(), lags.get("sql-writer"), lags.get("alerts"),
				(cpuTime()-cpu0).Seconds()/time.Since(began).Seconds())
			nextLog = nextLog.Add(soakLogEvery)
		}
	}
	close(due)
	workers.Wait()
	backlogEnd := sent.Load() - committed.records.Load()
	wall := time.Since(began)
	cpu := cpuTime() - cpu0
	writerLag, alertLag := lags.get("sql-writer"), lags.get("alerts")
	committedRate := float64(committed.records.Load()) / wall.Seconds()
	offered := float64(sent.Load()) / wall.Seconds()
	slices.Sort(lat)
	b.ReportMetric(float64(*soakPrinters), "printers")
	b.ReportMetric(offered, "offered_rec/s")
	b.ReportMetric(committedRate, "committed_rec/s")
	b.ReportMetric(float64(third), "backlog_third")
	b.ReportMetric(float64(backlogEnd), "backlog_end")
	b.ReportMetric(float64(maxBacklog), "backlog_max")
	b.ReportMetric(offered*soakInterval.Seconds(), "interval_rec")
	b.ReportMetric(writerLag, "writer_lag_msgs")
	b.ReportMetric(alertLag, "alerts_lag_msgs")
	b.ReportMetric(percentile(lat, 0.99), "upload_p99_ms")
	b.ReportMetric(percentile(committed.takeLatencies(), 0.99), "commit_p99_ms")
	b.ReportMetric(100*float64(late.Load())/math.Max(1, float64(len(lat))), "late_%")
	b.ReportMetric(100*float64(refused.Load())/math.Max(1, float64(len(lat)+int(refused.Load()))), "refused_%")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(loadAverage(), "load1")
}
