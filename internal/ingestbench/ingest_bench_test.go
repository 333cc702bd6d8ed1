package ingestbench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/stream"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

const (
	gateways  = 32
	batchSize = 500
)

// register is a read-only uplink.Gateways of the benchmark's gateways.
type register map[fleet.GatewayID]fleet.Gateway

func (r register) Enrol(context.Context, string, string, []byte, time.Time) (fleet.Gateway, error) {
	return fleet.Gateway{}, fleet.ErrInvalidToken
}

func (r register) Gateway(_ context.Context, id fleet.GatewayID) (fleet.Gateway, error) {
	gw, ok := r[id]
	if !ok {
		return fleet.Gateway{}, fleet.ErrNotFound
	}
	return gw, nil
}

// site is one gateway: its key, its client and the batch it sends, with
// sequence numbers moved on for every upload.
type site struct {
	cred   uplink.Credentials
	client *uplink.Client
	batch  uplink.Batch
	next   uint64
}

func (s *site) nextBatch() uplink.Batch {
	for i := range s.batch.Records {
		s.next++
		s.batch.Records[i].Seq = s.next
		s.batch.Records[i].Layer.Seq = s.next
		s.batch.Records[i].Layer.Index = int(s.next)
	}
	return s.batch
}

func layerBatch(printer fleet.PrinterID) uplink.Batch {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var b uplink.Batch
	for i := range batchSize {
		start := t0.Add(time.Duration(i) * 9 * time.Second)
		b.Records = append(b.Records, fleet.Record{Kind: fleet.KindLayer, PrinterID: printer, Time: start, Layer: &fleet.Layer{
			JobID: "j7Qx2aB9", SizeMM2: 41234.5 + float64(i%97)*13.25, DurationSec: 8.7 + float64(i%7)/10,
			Start: start, End: start.Add(8700 * time.Millisecond),
		}})
	}
	return b
}

type env struct {
	st    *stream.Stream
	sites []*site
}

func newEnv(b *testing.B) *env {
	b.Helper()
	st, err := stream.Open(b.Context(), stream.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	reg := register{}
	e := &env{st: st}
	for i := range gateways {
		pub, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		id := fleet.GatewayID(fmt.Sprintf("gw-%02d", i))
		reg[id] = fleet.Gateway{ID: id, OrgID: "org-1", SiteID: fleet.SiteID(fmt.Sprintf("site-%02d", i)), Name: string(id), PublicKey: pub}
		e.sites = append(e.sites, &site{cred: uplink.Credentials{GatewayID: id, Key: key}, batch: layerBatch(fleet.PrinterID(fmt.Sprintf("printer-%04d", i)))})
	}
	h := uplink.NewHandler(reg, st, uplink.HandlerOptions{
		MaxMessageBytes:  st.MaxPayload(),
		RecordsPerSecond: -1, // measure the path, not the limiter
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Config.ReadTimeout = time.Minute
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	b.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	for _, s := range e.sites {
		if s.client, err = uplink.NewClient(srv.URL, uplink.ClientOptions{RootCAs: pool}); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// run sends n batches from all sites at once, each site one at a time,
// and returns the elapsed time.
func (e *env) run(b *testing.B, n int, send func(s *site, i int)) time.Duration {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, s := range e.sites {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				send(s, i)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkIngest: one op is one batch of 500 layer records, sent b.N
// times over each path.
func BenchmarkIngest(b *testing.B) {
	e := newEnv(b)
	ctx := b.Context()
	n := b.N
	records := float64(n * batchSize)

	// Raw: the same envelopes, published straight to JetStream with the
	// message IDs the handler would use.
	envelopes := make([][]byte, len(e.sites))
	for i, s := range e.sites {
		data, err := json.Marshal(uplink.Envelope{OrgID: "org-1", SiteID: "site-raw", GatewayID: s.cred.GatewayID, Records: s.nextBatch().Records})
		if err != nil {
			b.Fatal(err)
		}
		envelopes[i] = data
	}
	b.ResetTimer()
	raw := e.run(b, n, func(s *site, i int) {
		if err := e.st.Publish(ctx, fmt.Sprintf("raw-%d", i), envelopes[i%len(envelopes)]); err != nil {
			b.Error(err)
		}
	})

	// Uplink: each gateway signs, compresses and uploads over TLS, one
	// connection per batch; the handler verifies, decodes, validates,
	// re-encodes and publishes, and answers once JetStream has stored it.
	up := e.run(b, n, func(s *site, i int) {
		if _, err := s.client.Upload(ctx, s.cred, s.nextBatch()); err != nil {
			b.Error(err)
		}
	})
	b.StopTimer()
	rawRate, upRate := records/raw.Seconds(), records/up.Seconds()

	// Latency at half load: every site paced so that all together send
	// half the measured uplink rate.
	interval := time.Duration(float64(time.Second) * float64(len(e.sites)) / (upRate / 2 / batchSize))
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	var wg sync.WaitGroup
	perSite := max(1, n/len(e.sites))
	for k, s := range e.sites {
		wg.Go(func() {
			// Stagger the sites across one interval.
			next := time.Now().Add(interval * time.Duration(k) / time.Duration(len(e.sites)))
			for range perSite {
				time.Sleep(time.Until(next))
				start := time.Now()
				if _, err := s.client.Upload(ctx, s.cred, s.nextBatch()); err != nil {
					b.Error(err)
				}
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				next = next.Add(interval)
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }

	b.ReportMetric(rawRate, "raw_records/s")
	b.ReportMetric(upRate, "uplink_records/s")
	b.ReportMetric(upRate/rawRate, "uplink/raw")
	b.ReportMetric(pct(0.50), "p50_ack_ms")
	b.ReportMetric(pct(0.99), "p99_ack_ms")
	b.ReportMetric(upRate/2, "half_load_records/s")
}
