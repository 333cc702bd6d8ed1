package ingestbench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/stream"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	gateways  = 32
	batchSize = 500
	// asyncWindow is how many raw async publishes may await their ack.
	asyncWindow = 256
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

// PrinterPlaces binds no printer to a site: the benchmark measures the
// stream, not the store.
func (r register) PrinterPlaces(context.Context, fleet.OrgID, []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, error) {
	return nil, nil
}

// site is one gateway: its key, its client and the batch it sends, with
// sequence numbers moved on for every upload.
type site struct {
	cred   uplink.Credentials
	client *uplink.Client
	batch  uplink.Batch
	next   uint64
	// prepared are uploads made ahead for the cloud-side run, and hc
	// sends them.
	prepared []prepared
	hc       *http.Client
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
	st      *stream.Stream
	sites   []*site
	url     string
	pool    *x509.CertPool
	reg     register
	tls     atomic.Int64 // TLS requests the cloud served
	resumed atomic.Int64 // of which on a resumed session
}

func newEnv(b benchrun.B) *env {
	b.Helper()
	st, err := stream.Open(b.Context(), stream.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	e := &env{st: st, reg: register{}}
	for i := range gateways {
		pub, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		id := fleet.GatewayID(fmt.Sprintf("gw-%02d", i))
		e.reg[id] = fleet.Gateway{ID: id, OrgID: "org-1", SiteID: fleet.SiteID(fmt.Sprintf("site-%02d", i)), Name: string(id), PublicKey: pub}
		e.sites = append(e.sites, &site{cred: uplink.Credentials{GatewayID: id, Key: key}, batch: layerBatch(fleet.PrinterID(fmt.Sprintf("printer-%04d", i)))})
	}
	h := uplink.NewHandler(e.reg, e.reg, st, uplink.HandlerOptions{
		MaxMessageBytes:  st.MaxPayload(),
		RecordsPerSecond: -1, BytesPerSecond: -1, // measure the path, not the limiter
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			e.tls.Add(1)
			if r.TLS.DidResume {
				e.resumed.Add(1)
			}
		}
		h.ServeHTTP(w, r)
	}))
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Config.ReadTimeout = time.Minute
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS() // session tickets on: crypto/tls's default
	b.Cleanup(srv.Close)
	e.url = srv.URL
	e.pool = x509.NewCertPool()
	e.pool.AddCert(srv.Certificate())
	for _, s := range e.sites {
		if s.client, err = uplink.NewClient(srv.URL, uplink.ClientOptions{RootCAs: e.pool}); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// run sends n batches from all sites at once, each site one at a time,
// and returns the elapsed time.
func (e *env) run(b benchrun.B, n int, send func(s *site, i int)) time.Duration {
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

// share is how many of n uploads site k of sites sends.
func share(n, sites, k int) int {
	if k < n%sites {
		return n/sites + 1
	}
	return n / sites
}

// prepared is an upload whose body a gateway has already encoded,
// compressed and signed.
type prepared struct {
	gw, ts, sig string
	body        []byte
}

// prepare does a gateway's share of an upload ahead of time, exactly as
// uplink.Client does it (JSON, zstd at the client's level, the signature
// that HeaderSignature documents).
func prepare(b benchrun.B, enc *zstd.Encoder, s *site) prepared {
	b.Helper()
	raw, err := json.Marshal(s.nextBatch())
	if err != nil {
		b.Fatal(err)
	}
	body := enc.EncodeAll(raw, nil)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sum := sha256.Sum256(body)
	msg := "fusionfleet-upload-v1\n" + string(s.cred.GatewayID) + "\n" + ts + "\n" + hex.EncodeToString(sum[:])
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(s.cred.Key, []byte(msg)))
	return prepared{gw: string(s.cred.GatewayID), ts: ts, sig: sig, body: body}
}

// send posts a prepared upload the way uplink.Client does: one connection
// per payload, TLS sessions resumed from hc's cache.
func send(ctx context.Context, hc *http.Client, url string, p prepared) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/batches", bytes.NewReader(p.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", uplink.CompressionZstd)
	req.Header.Set(uplink.HeaderGateway, p.gw)
	req.Header.Set(uplink.HeaderTimestamp, p.ts)
	req.Header.Set(uplink.HeaderSignature, p.sig)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cloud answered %d: %s", resp.StatusCode, answer)
	}
	return nil
}

// Ingest measures the cloud's ingest of layer records: one op is
// one batch of 500 layer records (about 120 KB of JSON, 10 KB as zstd),
// sent b.N() times over each path below by 32 gateways at once, on the
// machine's cores (GOMAXPROCS). Every figure counts records made durable
// in the same embedded JetStream (file storage); a batch is "acknowledged"
// when JetStream has stored it.
//
//   - raw_sync_rec/s: the handler's publish pattern with nothing else: 32
//     goroutines, each publishing a ready envelope of the same bytes the
//     handler publishes (same size, a fresh message ID each) and waiting
//     for JetStream's ack before the next. The engine's limit for the
//     handler's way of publishing: what the uplink ratios are taken of.
//
//   - raw_async_rec/s: the engine's ceiling: the same envelopes from one
//     connection with up to 256 publishes awaiting their ack.
//
//   - uplink_e2e_rec/s: everything on one machine: each gateway encodes,
//     compresses and signs its batch (uplink.Client) and uploads it over
//     TLS, one new connection per batch, resuming its TLS session; the
//     handler verifies, decompresses, decodes strictly, validates,
//     publishes and answers. The gateways' CPU is taken from the cloud's.
//
//   - uplink_cloud_rec/s: the same uploads with the gateways' encoding,
//     compression and signing done before the clock starts, as the sites'
//     own machines would do it: what remains on these cores is the cloud's
//     work plus the gateways' side of the TLS handshake and the HTTP
//     exchange (sent as uplink.Client sends: a new connection per batch,
//     TLS session resumed).
//
//   - e2e/raw_sync, cloud/raw_sync: the ratios.
//
//   - p50_ack_ms, p99_ack_ms: upload latency (uplink.Client.Upload, from
//     encoding to ack) with the 32 gateways paced to half of
//     uplink_e2e_rec/s together (half_load_rec/s).
//
//   - raw_sync_cpu_µs/rec, raw_async_cpu_µs/rec, e2e_cpu_µs/rec,
//     cloud_cpu_µs/rec: CPU time (user and system, whole process: NATS
//     server, cloud and gateways) per record on each path. They move less
//     than the rates when other work shares the machine.
//
//   - resumed_%: share of the uploads whose TLS session was resumed.
//
//   - body_B, envelope_B: a batch's compressed body and published envelope.
//
//     go test -run '^$' -bench '^BenchmarkIngest$' -benchtime 1000x ./internal/ingestbench
func Ingest(b benchrun.B) {
	e := newEnv(b)
	ctx := b.Context()
	n := b.N()
	records := float64(n * batchSize)

	// The envelopes the handler would publish: same records, same size.
	envelopes := make([][]byte, len(e.sites))
	for i, s := range e.sites {
		gw := e.reg[s.cred.GatewayID]
		data, err := json.Marshal(fleet.Envelope{OrgID: gw.OrgID, SiteID: gw.SiteID, GatewayID: gw.ID, Records: s.nextBatch().Records})
		if err != nil {
			b.Fatal(err)
		}
		envelopes[i] = data
	}

	// Prepared uploads for the cloud-side run, made before any clock runs.
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		b.Fatal(err)
	}
	for k, s := range e.sites {
		for range share(n, len(e.sites), k) {
			s.prepared = append(s.prepared, prepare(b, zenc, s))
		}
		s.hc = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{RootCAs: e.pool, MinVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(16)},
		}}
	}
	bodyBytes := len(e.sites[0].prepared[0].body) // n >= 1: site 0 has one
	b.ResetTimer()
	cpu0 := cpuTime()
	rawSync := e.run(b, n, func(_ *site, i int) {
		if err := e.st.Publish(ctx, fmt.Sprintf("raw-%d", i), envelopes[i%len(envelopes)]); err != nil {
			b.Error(err)
		}
	})
	cpu1 := cpuTime()
	rawAsync := publishAsync(b, e, envelopes, n)
	cpu2 := cpuTime()

	up := e.run(b, n, func(s *site, _ int) {
		if _, err := s.client.Upload(ctx, s.cred, s.nextBatch()); err != nil {
			b.Error(err)
		}
	})

	// Each site sends its share of the prepared uploads.
	cpu3 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range e.sites {
		wg.Go(func() {
			for _, p := range s.prepared {
				if err := send(ctx, s.hc, e.url, p); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	cloud := time.Since(start)
	cpu4 := cpuTime()
	b.StopTimer()
	rate := func(d time.Duration) float64 { return records / d.Seconds() }

	// Latency at half load: every site paced so that all together send
	// half the measured end-to-end rate.
	interval := time.Duration(float64(time.Second) * float64(len(e.sites)) / (rate(up) / 2 / batchSize))
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	perSite := max(1, n/len(e.sites))
	for k, s := range e.sites {
		wg.Go(func() {
			// Stagger the sites across one interval.
			next := time.Now().Add(interval * time.Duration(k) / time.Duration(len(e.sites)))
			for range perSite {
				time.Sleep(time.Until(next)) // a paced load on real time: the latency is the figure
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

	b.ReportMetric(rate(rawSync), "raw_sync_rec/s")
	b.ReportMetric(rate(rawAsync), "raw_async_rec/s")
	b.ReportMetric(rate(up), "uplink_e2e_rec/s")
	b.ReportMetric(rate(cloud), "uplink_cloud_rec/s")
	b.ReportMetric(rate(up)/rate(rawSync), "e2e/raw_sync")
	b.ReportMetric(rate(cloud)/rate(rawSync), "cloud/raw_sync")
	b.ReportMetric(pct(0.50), "p50_ack_ms")
	b.ReportMetric(pct(0.99), "p99_ack_ms")
	b.ReportMetric(rate(up)/2, "half_load_rec/s")
	perRec := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 / records }
	b.ReportMetric(perRec(cpu1-cpu0), "raw_sync_cpu_µs/rec")
	b.ReportMetric(perRec(cpu2-cpu1), "raw_async_cpu_µs/rec")
	b.ReportMetric(perRec(cpu3-cpu2), "e2e_cpu_µs/rec")
	b.ReportMetric(perRec(cpu4-cpu3), "cloud_cpu_µs/rec")
	b.ReportMetric(100*float64(e.resumed.Load())/float64(max(1, e.tls.Load())), "resumed_%")
	b.ReportMetric(float64(bodyBytes), "body_B")
	b.ReportMetric(float64(len(envelopes[0])), "envelope_B")
}

// publishAsync publishes n envelopes from one connection with up to
// asyncWindow awaiting their ack, and returns once all are acknowledged.
func publishAsync(b benchrun.B, e *env, envelopes [][]byte, n int) time.Duration {
	b.Helper()
	nc, err := e.st.Connect()
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(asyncWindow))
	if err != nil {
		b.Fatal(err)
	}
	futures := make([]jetstream.PubAckFuture, 0, n)
	start := time.Now()
	for i := range n {
		f, err := js.PublishAsync("fleet.batches", envelopes[i%len(envelopes)], jetstream.WithMsgID(fmt.Sprintf("async-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		case <-time.After(time.Minute):
			b.Fatal("no ack from JetStream in a minute")
		}
	}
	return time.Since(start)
}
