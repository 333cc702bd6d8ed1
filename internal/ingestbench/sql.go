package ingestbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/ingest"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	"github.com/fusionfleet/fusionfleet/internal/stream"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/jackc/pgx/v5"
)

// sqlPrinters is the number of printers of one benchmark site: a site of
// ten printers, as the production mix of the issue describes it.
const sqlPrinters = 10

// mixSite produces a 10-printer site's records in production: per
// printer a layer every 9 s, a status every minute, counters every five
// minutes and an event every ten, in time order, as a Command Center
// uploads them.
type mixSite struct {
	printers []fleet.PrinterID
	at       time.Time
}

// next returns the next n records of the site, seq numbered from seq+1.
func (m *mixSite) next(seq uint64, n int) []fleet.Record {
	recs := make([]fleet.Record, 0, n+len(m.printers))
	for len(recs) < n {
		m.at = m.at.Add(time.Second)
		recs = append(recs, m.second(seq+uint64(len(recs)))...)
	}
	return recs[:n]
}

// window returns the site's records of the seconds after the last one
// returned up to to, seq numbered from seq+1.
func (m *mixSite) window(seq uint64, to time.Time) []fleet.Record {
	var recs []fleet.Record
	for !m.at.Add(time.Second).After(to) {
		m.at = m.at.Add(time.Second)
		recs = append(recs, m.second(seq+uint64(len(recs)))...)
	}
	return recs
}

// second returns the records the site's printers report in the second
// m.at, seq numbered from seq+1.
func (m *mixSite) second(seq uint64) []fleet.Record {
	var recs []fleet.Record
	s := m.at.Unix()
	for _, p := range m.printers {
		seq++
		switch {
		case s%600 == 0:
			recs = append(recs, storetest.EventRecord(seq, p, "LAMP-WEAK", m.at))
		case s%300 == 0:
			recs = append(recs, storetest.CountersRecord(seq, p, s/3600, m.at))
		case s%60 == 0:
			recs = append(recs, storetest.StatusRecord(seq, p, fleet.StatePrinting, m.at))
		case s%9 == 0:
			recs = append(recs, storetest.LayerRecord(seq, p, "j7Qx2aB9", int(s/9%100000)+1, m.at))
		default:
			seq--
		}
	}
	return recs
}

// layerSite produces layer records only, of the site's printers in turn.
func layerSite(printers []fleet.PrinterID, at time.Time) func(seq uint64, n int) []fleet.Record {
	return func(seq uint64, n int) []fleet.Record {
		recs := make([]fleet.Record, n)
		for i := range recs {
			seq++
			at = at.Add(900 * time.Millisecond)
			recs[i] = storetest.LayerRecord(seq, printers[i%len(printers)], "j7Qx2aB9", int(seq), at)
		}
		return recs
	}
}

// committed is the store as the writer sees it, counting what it applies
// and when each batch (by its gateway and first seq) was committed.
type committed struct {
	ingest.Store
	records atomic.Int64
	mu      sync.Mutex
	sent    map[string]time.Time // gateway/first seq → when the gateway began to send it
	lat     []time.Duration      // send → commit of each batch
}

func batchKey(gw fleet.GatewayID, seq uint64) string {
	return string(gw) + "/" + strconv.FormatUint(seq, 10)
}

func (c *committed) ApplyEnvelope(ctx context.Context, env fleet.Envelope) (int, error) {
	n, err := c.Store.ApplyEnvelope(ctx, env)
	if err != nil {
		return n, err
	}
	c.commit(env)
	return n, err
}

func (c *committed) ApplyEnvelopes(ctx context.Context, envs []fleet.Envelope) ([]int, []error, error) {
	n, rejected, err := c.Store.ApplyEnvelopes(ctx, envs)
	if err != nil {
		return n, rejected, err
	}
	c.commit(envs...)
	return n, rejected, err
}

// commit counts the committed envs and notes their latency.
func (c *committed) commit(envs ...fleet.Envelope) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, env := range envs {
		c.records.Add(int64(len(env.Records)))
		if len(env.Records) > 0 {
			k := batchKey(env.GatewayID, env.Records[0].Seq)
			if t, ok := c.sent[k]; ok {
				c.lat = append(c.lat, now.Sub(t))
				delete(c.sent, k)
			}
		}
	}
}

func (c *committed) markSent(gw fleet.GatewayID, seq uint64) {
	c.mu.Lock()
	c.sent[batchKey(gw, seq)] = time.Now()
	c.mu.Unlock()
}

// waitFor waits until the store has committed n records in all.
func (c *committed) waitFor(b benchrun.B, n int64) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for c.records.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d records committed after 10 minutes", c.records.Load(), n)
		}
		time.Sleep(2 * time.Millisecond) // polls a counter: the rate is measured over minutes of work
	}
}

// takeLatencies returns the send → commit latencies since the last call.
func (c *committed) takeLatencies() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	lat := c.lat
	c.lat = nil
	clear(c.sent)
	slices.Sort(lat)
	return lat
}

func percentile(lat []time.Duration, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
}

// sqlEnv is a cloud on one machine: the uplink handler, the embedded
// JetStream, the SQL writer consuming as the cloud node wires it, and a
// store.
type sqlEnv struct {
	*env
	db    *store.DB
	dsn   string
	store *committed
	gen   []func(seq uint64, n int) []fleet.Record
}

// newSQLEnv builds the cloud and its 32 sites; mix selects the production
// mix instead of layers only.
func newSQLEnv(b benchrun.B, dsn string, mix bool) *sqlEnv {
	b.Helper()
	e := newEnv(b)
	ctx := b.Context()
	db, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := db.EnsurePartitions(ctx, t0); err != nil {
		b.Fatal(err)
	}
	org, err := db.CreateOrg(ctx, "Bench")
	if err != nil {
		b.Fatal(err)
	}
	s := &sqlEnv{env: e, db: db, dsn: dsn, store: &committed{Store: db, sent: map[string]time.Time{}}}
	for i, site := range e.sites {
		id, err := db.CreateSite(ctx, org, fmt.Sprintf("Plant %d", i))
		if err != nil {
			b.Fatal(err)
		}
		gw := e.reg[site.cred.GatewayID]
		gw.OrgID, gw.SiteID = org, id
		e.reg[gw.ID] = gw
		printers := make([]fleet.PrinterID, sqlPrinters)
		for k := range printers {
			printers[k] = fleet.PrinterID(fmt.Sprintf("%s-p%02d", gw.ID, k))
		}
		if mix {
			m := &mixSite{printers: printers, at: t0}
			s.gen = append(s.gen, m.next)
		} else {
			s.gen = append(s.gen, layerSite(printers, t0))
		}
	}
	return s
}

// nextBatch is site k's next batch of batchSize records.
func (s *sqlEnv) nextBatch(k int) uplink.Batch {
	site := s.sites[k]
	recs := s.gen[k](site.next, batchSize)
	site.next += batchSize
	return uplink.Batch{Records: recs}
}

// upload sends n batches from all sites at once, each site one batch at a
// time, each paced to one batch per interval if interval > 0.
func (s *sqlEnv) upload(b benchrun.B, n int, interval time.Duration) {
	b.Helper()
	ctx := b.Context()
	var wg sync.WaitGroup
	for k, site := range s.sites {
		wg.Go(func() {
			next := time.Now().Add(interval * time.Duration(k) / time.Duration(len(s.sites)))
			for range share(n, len(s.sites), k) {
				if interval > 0 {
					time.Sleep(time.Until(next)) // a paced load on real time: the latency is the figure
					next = next.Add(interval)
				}
				batch := s.nextBatch(k)
				s.store.markSent(site.cred.GatewayID, batch.Records[0].Seq)
				if _, err := site.client.Upload(ctx, site.cred, batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// IngestSQL measures the cloud's ingest end to end, to rows
// committed in the store: 32 gateways (each a site of ten printers)
// upload batches of 500 records with the real uplink client (JSON, zstd,
// signature, TLS with one connection per batch) to the uplink handler,
// which publishes them to the embedded JetStream; the SQL writer consumes
// them as the cloud node wires it and commits them. One op is one batch.
// The engine is eng (BenchmarkIngestSQL: sqlite; postgres when a server
// answers, see pgtest) and the records layers only, or with mix the production mix of a site
// (per printer a layer every 9 s, a status a minute, counters every five
// minutes, an event every ten: 83 % layers).
//
// References, measured in the same run on the same machine (ratios are
// what to compare, the machine being shared):
//
//   - raw_rows/s: the engine's raw write of the same number of layer
//     rows, one transaction per batch of 500: on SQLite a prepared
//     multi-row INSERT of 64 rows, on PostgreSQL COPY.
//   - direct_rec/s: decoding the envelopes and ApplyEnvelope through the
//     writer, one at a time, without stream or uplink; direct8_rec/s the
//     same with eight envelopes to a group commit (HandleBatch).
//
// The *_cpu_µs figures are the CPU time of the whole process per record
// (on PostgreSQL without the server's): on a machine other work loads,
// they move less than the rates.
//
// Figures: e2e_rec/s (records committed per second, from the first upload
// to the last commit), e2e/raw and e2e/direct; p99_commit_ms flat out and
// half_p50/p99_commit_ms with the gateways paced to half of e2e_rec/s
// (from the gateway's upload call to the writer's commit); the same
// prefixed one_ for the writer consuming one message at a time (see
// wirings); load1, the machine's load average when the run ended.
//
//	go test -run '^$' -bench IngestSQL -benchtime 400x ./internal/ingestbench
func IngestSQL(b benchrun.B, eng Engine, mix bool) {
	benchSQL(b, eng, func() *sqlEnv { return newSQLEnv(b, eng.Fresh(b), mix) })
}

// Engine is a store engine IngestSQL writes to: Fresh returns the DSN of
// a new, empty database on every call, gone when b ends.
type Engine struct {
	Name  string
	Fresh func(b benchrun.B) string
}

// SQLite is the SQLite engine, a database file in a temporary directory.
func SQLite() Engine {
	return Engine{Name: "sqlite", Fresh: func(b benchrun.B) string { return filepath.Join(b.TempDir(), "cloud.db") }}
}

// took is the wall and CPU time (whole process) of a run.
type took struct{ wall, cpu time.Duration }

// since is the time taken since wall and cpu were read.
func since(wall time.Time, cpu time.Duration) took {
	return took{time.Since(wall), cpuTime() - cpu}
}

// wirings are the SQL writer's ways of consuming the stream: the cloud
// node's (batched: up to 64 messages or 1 MiB fetched at once and
// committed in transactions of about 2,000 records, the
// next batch fetched meanwhile, acknowledgements after the commit) and,
// for comparison in the same run, the one it replaced (one: one message
// fetched, committed and acknowledged at a time). The node runs as many
// batched consumers as the store has appliers (two on PostgreSQL), and
// so does e2e.
var wirings = []struct {
	name    string
	consume func(ctx context.Context, st *stream.Stream, w *ingest.Writer) error
}{
	{"one_", func(ctx context.Context, st *stream.Stream, w *ingest.Writer) error {
		return st.Consume(ctx, "sql-writer", w.Handle)
	}},
	{"", func(ctx context.Context, st *stream.Stream, w *ingest.Writer) error {
		return st.ConsumeBatches(ctx, "sql-writer", stream.Batch{Messages: 64, Bytes: 1 << 20}, w.HandleBatch) // as internal/cloud's Node.Run
	}},
}

// benchSQL measures each figure on a fresh cloud made by fresh (stream
// and store), so that none inherits the rows or messages of another.
func benchSQL(b benchrun.B, eng Engine, fresh func() *sqlEnv) {
	n := b.N()
	records := float64(n * batchSize)
	rate := func(t took) float64 { return records / t.wall.Seconds() }
	perRec := func(t took) float64 { return float64(t.cpu.Microseconds()) / records }

	s := fresh()
	raw := rawWrite(b, eng, n)
	direct := s.direct(b, n, 1)
	direct8 := fresh().direct(b, n, 8)
	b.ResetTimer() // and its metrics: the figures are reported below
	b.StopTimer()
	b.ReportMetric(rate(raw), "raw_rows/s")
	b.ReportMetric(rate(direct), "direct_rec/s")
	b.ReportMetric(rate(direct8), "direct8_rec/s")
	b.ReportMetric(perRec(raw), "raw_cpu_µs/row")
	b.ReportMetric(perRec(direct), "direct_cpu_µs/rec")
	b.ReportMetric(perRec(direct8), "direct8_cpu_µs/rec")
	for _, wiring := range wirings {
		e2e, flat, lat := fresh().e2e(b, wiring.name, wiring.consume)
		b.ReportMetric(rate(e2e), wiring.name+"e2e_rec/s")
		b.ReportMetric(rate(e2e)/rate(raw), wiring.name+"e2e/raw")
		b.ReportMetric(rate(e2e)/rate(direct), wiring.name+"e2e/direct")
		b.ReportMetric(perRec(e2e), wiring.name+"e2e_cpu_µs/rec")
		b.ReportMetric(percentile(flat, 0.99), wiring.name+"p99_commit_ms")
		b.ReportMetric(percentile(lat, 0.50), wiring.name+"half_p50_commit_ms")
		b.ReportMetric(percentile(lat, 0.99), wiring.name+"half_p99_commit_ms")
	}
	b.ReportMetric(loadAverage(), "load1")
}

// e2e runs the writer with consume while the gateways upload b.N() batches
// flat out, then half as many paced to half the rate measured. It returns
// the flat out time and the latencies of both runs.
func (s *sqlEnv) e2e(b benchrun.B, wiring string, consume func(context.Context, *stream.Stream, *ingest.Writer) error) (took, []time.Duration, []time.Duration) {
	n := b.N()
	w := ingest.NewWriter(s.store, s.st, ingest.Options{})
	ctx, cancel := context.WithCancel(b.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := consume(ctx, s.st, w); err != nil {
			b.Error(err)
		}
	})
	if wiring == "" { // the node's: as many consumers as the store has appliers
		for range s.db.Appliers() - 1 {
			wg.Go(func() {
				if err := consume(ctx, s.st, w); err != nil {
					b.Error(err)
				}
			})
		}
	}
	defer wg.Wait()
	defer cancel()

	b.StartTimer()
	start, cpu := time.Now(), cpuTime()
	s.upload(b, n, 0)
	total := int64(n * batchSize)
	s.store.waitFor(b, total)
	e2e := since(start, cpu)
	b.StopTimer()
	flat := s.store.takeLatencies()

	interval := time.Duration(float64(time.Second) * float64(len(s.sites)) * 2 * batchSize * e2e.wall.Seconds() / float64(n*batchSize))
	half := max(n/2, len(s.sites))
	s.upload(b, half, interval)
	total += int64(half * batchSize)
	s.store.waitFor(b, total)
	return e2e, flat, s.store.takeLatencies()
}

// direct decodes and applies n envelopes of fresh records through a
// writer, one at a time, and returns the time taken.
func (s *sqlEnv) direct(b benchrun.B, n, group int) took {
	b.Helper()
	w := ingest.NewWriter(s.db, s.st, ingest.Options{})
	envs := make([][]byte, n)
	for i := range envs {
		k := i % len(s.sites)
		gw := s.reg[s.sites[k].cred.GatewayID]
		data, err := json.Marshal(fleet.Envelope{OrgID: gw.OrgID, SiteID: gw.SiteID,
			GatewayID: "direct-" + gw.ID, Records: s.nextBatch(k).Records})
		if err != nil {
			b.Fatal(err)
		}
		envs[i] = data
	}
	start, cpu := time.Now(), cpuTime()
	for msgs := range slices.Chunk(envs, group) {
		if err := errors.Join(w.HandleBatch(b.Context(), msgs)...); err != nil {
			b.Fatal(err)
		}
	}
	return since(start, cpu)
}

// rawWrite writes n batches of batchSize layer rows into the layers table
// of a fresh database of the same engine, each batch in one transaction:
// on SQLite with a prepared 64-row INSERT, on PostgreSQL with COPY. It
// returns the time taken.
func rawWrite(b benchrun.B, eng Engine, n int) took {
	b.Helper()
	ctx := b.Context()
	rawDSN := eng.Fresh(b)
	db, err := store.Open(ctx, rawDSN, store.Options{}) // the same schema
	if err != nil {
		b.Fatal(err)
	}
	if err := db.EnsurePartitions(ctx, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)); err != nil {
		b.Fatal(err)
	}
	db.Close()
	cols := []string{"gateway_id", "record_seq", "printer_id", "job_id", "seq", "layer_index",
		"size_mm2", "duration_sec", "start_time", "end_time"}
	gen := layerSite([]fleet.PrinterID{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"},
		time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	batches := make([][][]any, n)
	for i := range batches {
		for _, r := range gen(uint64(i*batchSize), batchSize) {
			l := r.Layer
			batches[i] = append(batches[i], []any{"gw-raw", int64(r.Seq), string(r.PrinterID), l.JobID, int64(l.Seq),
				l.Index, l.SizeMM2, l.DurationSec, l.Start.UnixNano(), l.End.UnixNano()})
		}
	}
	if strings.HasPrefix(rawDSN, "postgres") {
		return rawCopy(b, rawDSN, cols, batches)
	}
	return rawInsert(b, rawDSN, cols, batches)
}

func rawInsert(b benchrun.B, path string, cols []string, batches [][][]any) took {
	b.Helper()
	ctx := b.Context()
	db, err := sqlitedb.OpenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const chunk = 64
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	insert := func(rows int) string {
		return "INSERT INTO layers (" + strings.Join(cols, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
	}
	full, err := db.PrepareContext(ctx, insert(chunk))
	if err != nil {
		b.Fatal(err)
	}
	defer full.Close()
	start, cpu := time.Now(), cpuTime()
	for _, rows := range batches {
		err := func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			stmt := tx.StmtContext(ctx, full)
			for c := range slices.Chunk(rows, chunk) {
				args := make([]any, 0, len(c)*len(cols))
				for _, r := range c {
					args = append(args, r...)
				}
				var err error
				if len(c) == chunk {
					_, err = stmt.ExecContext(ctx, args...)
				} else {
					_, err = tx.ExecContext(ctx, insert(len(c)), args...)
				}
				if err != nil {
					return err
				}
			}
			return tx.Commit()
		}()
		if err != nil {
			b.Fatal(err)
		}
	}
	return since(start, cpu)
}

func rawCopy(b benchrun.B, url string, cols []string, batches [][][]any) took {
	b.Helper()
	ctx := b.Context()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	start, cpu := time.Now(), cpuTime()
	for _, rows := range batches {
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"layers"}, cols, pgx.CopyFromRows(rows))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return since(start, cpu)
}

// loadAverage is the machine's load average over the last minute; 0
// where it cannot be read.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(data), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}
