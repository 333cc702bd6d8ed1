package soak

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGrowth(t *testing.T) {
	tests := []struct {
		name   string
		xs, ys []float64
		want   float64
	}{
		{"flat", []float64{0, 1, 2, 3}, []float64{5, 5, 5, 5}, 0},
		{"rising", []float64{0, 1, 2, 3}, []float64{0, 2, 4, 6}, 6},
		{"falling", []float64{10, 20}, []float64{4, 2}, -2},
		{"noise around flat", []float64{0, 1, 2, 3}, []float64{5, 6, 5, 6}, 0.6},
		{"one point", []float64{1}, []float64{1}, 0},
		{"no span", []float64{1, 1}, []float64{1, 2}, 0},
		{"mismatched", []float64{1, 2}, []float64{1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Growth(tt.xs, tt.ys); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Growth = %v, want %v", got, tt.want)
			}
		})
	}
}

// samples are n samples over days, their value f(day).
func samples(n int, days float64, f func(day float64) float64) []Sample {
	var out []Sample
	for i := range n {
		d := days * float64(i+1) / float64(n)
		out = append(out, Sample{Day: d, Goroutines: int(f(d))})
	}
	return out
}

func TestFlat(t *testing.T) {
	get := func(s Sample) float64 { return float64(s.Goroutines) }
	b := Bound{Rel: 0.05, Abs: 10}
	tests := []struct {
		name    string
		samples []Sample
		want    bool
		detail  string
	}{
		{"flat", samples(20, 10, func(float64) float64 { return 300 }), true, "rises 0.0"},
		{"a leak of 10 a day", samples(20, 10, func(d float64) float64 { return 300 + 10*d }), false, "rises 47.7"},
		// The short soak in CI failed so: 126 goroutines throughout, and
		// an upload's 147 in the last sample.
		{"a spike in the last sample", samples(12, 2, func(d float64) float64 { return 126 + 21*max(0, d-1.9)*10 }), true, "rises 0.0"},
		{"a spike in the middle", samples(12, 2, func(d float64) float64 {
			if d > 1.4 && d < 1.6 {
				return 3000
			}
			return 126
		}), true, "rises 0.0"},
		{"a leak of one a sample", samples(40, 10, func(d float64) float64 { return 126 + 4*d }), false, ""},
		{"growth in the first half only", samples(20, 10, func(d float64) float64 { return 100 + 200*min(d, 5)/5 }), true, ""},
		{"falling", samples(20, 10, func(d float64) float64 { return 1000 - 50*d }), true, ""},
		{"too few samples", samples(4, 10, func(float64) float64 { return 1 }), false, "want at least 4"},
		{"none", nil, false, "no samples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Flat("goroutines", tt.samples, get, b, "")
			if c.OK != tt.want || !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("Flat = %v %q, want %v and %q", c.OK, c.Detail, tt.want, tt.detail)
			}
		})
	}
}

func TestPredictAndRows(t *testing.T) {
	const every = 6 * time.Hour
	tests := []struct {
		name   string
		table  Table
		days   float64
		want   float64 // predicted rows
		wantOK bool
	}{
		// 1000 a day over 30 days, kept 3 days: 3000.
		{"pruned as predicted", Table{Name: "layers", Rows: 3100, Pruned: 26900, Keep: 72 * time.Hour}, 30, 3000, true},
		{"pruning did not run", Table{Name: "layers", Rows: 30000, Keep: 72 * time.Hour}, 30, 3000, false},
		{"pruned too much", Table{Name: "layers", Rows: 1000, Pruned: 29000, Keep: 72 * time.Hour}, 30, 3000, false},
		{"kept longer than the soak", Table{Name: "jobs", Rows: 300, Keep: 365 * 24 * time.Hour}, 30, 300, true},
		{"empty", Table{Name: "logs", Keep: time.Hour}, 30, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Predict(tt.table, tt.days)
			if math.Abs(p.Predicted-tt.want) > 1e-6 {
				t.Errorf("Predicted = %v, want %v", p.Predicted, tt.want)
			}
			if c := Rows(p, every, 0.25); c.OK != tt.wantOK {
				t.Errorf("Rows = %v (%s), want %v", c.OK, c.Detail, tt.wantOK)
			}
		})
	}
}

func TestDisk(t *testing.T) {
	tables := []Table{
		Predict(Table{Name: "layers", Rows: 3000, Pruned: 27000, Keep: 72 * time.Hour, BytesPerRow: 300}, 30),
		Predict(Table{Name: "jobs", Rows: 300, Keep: 365 * 24 * time.Hour, BytesPerRow: 2000}, 30),
	}
	// layers 300 B × (3000 + 250 of a pruning interval) + jobs 2000 B × 300.
	const predicted = 300*3250 + 2000*300
	tests := []struct {
		name string
		size int64
		want bool
	}{
		{"as predicted", predicted, true},
		{"within the tolerance", predicted * 5 / 4, true},
		{"as without retention", 300*30000 + 2000*300, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Disk("store", tt.size, tables, 6*time.Hour, 30, 0.25, 0)
			if c.OK != tt.want {
				t.Errorf("Disk = %v (%s), want %v", c.OK, c.Detail, tt.want)
			}
		})
	}
}

func TestLogAndClassify(t *testing.T) {
	var text bytes.Buffer
	l := NewLog(&text)
	logger := slog.New(l.Handler())
	ret := logger.With("component", "retention")
	ret.Info("pruned", "layers", 10, "logs", 2)
	ret.Info("pruned", "layers", 5)
	logger.Info("pruned", "layers", 1000) // not retention's
	logger.Info("routine")
	stream := logger.With("component", "stream").WithGroup("g")
	stream.Warn("message failed, will be redelivered", "consumer", "alerts", "err", errors.New("printer p is not stored yet"))
	logger.Error("disk full", "component", "store")

	if diff := cmp.Diff(map[string]int64{"layers": 15, "logs": 2}, l.Pruned()); diff != "" {
		t.Errorf("Pruned (-want +got):\n%s", diff)
	}
	entries := l.Entries()
	if len(entries) != 2 {
		t.Fatalf("entries %v, want the warning and the error", entries)
	}
	if got := entries[0].Attrs["g.err"]; got != "printer p is not stored yet" {
		t.Errorf("the warning's err in its group = %q", got)
	}
	if !strings.Contains(text.String(), "disk full") || strings.Contains(text.String(), "routine") {
		t.Errorf("text log %q: want the warnings and errors only", text.String())
	}

	known := []Explanation{
		{Msg: "message failed, will be redelivered", Attrs: map[string]string{"g.err": "is not stored yet"}, Reason: "the store is behind"},
		{Msg: "message failed, will be redelivered", Attrs: map[string]string{"g.err": "something else"}, Reason: "never"},
	}
	counts, unexplained, c := Classify(entries, known)
	if c.OK || len(unexplained) != 1 || unexplained[0].Msg != "disk full" || !strings.Contains(c.Detail, "disk full") {
		t.Errorf("Classify: %v %v, want the error unexplained", c, unexplained)
	}
	if counts[0].Count != 1 || counts[1].Count != 0 {
		t.Errorf("counts %+v, want the first explanation once", counts)
	}
	if _, _, c := Classify(entries[:1], known); !c.OK {
		t.Errorf("Classify of the explained warning alone: %v", c)
	}
}

func TestParseRSS(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"Name:\tx\nVmRSS:\t  2048 kB\nThreads: 3\n", 2048 << 10},
		{"Name:\tx\n", 0},
		{"VmRSS: lots kB\n", 0},
	}
	for _, tt := range tests {
		if got := parseRSS([]byte(tt.in)); got != tt.want {
			t.Errorf("parseRSS(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if p := ReadProcess(); p.Goroutines < 1 || p.LiveHeap == 0 && p.RSS == 0 {
		t.Errorf("ReadProcess = %+v", p)
	}
}

// twoStores makes a gateway's store and a cloud's with just the columns
// the audit reads.
func twoStores(t *testing.T) (site, cloud *sql.DB) {
	t.Helper()
	open := func(name string, stmts ...string) *sql.DB {
		db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}
	site = open("site.db", `CREATE TABLE meta (key TEXT, value TEXT)`, `CREATE TABLE outbox (seq INTEGER)`)
	cloud = open("cloud.db", `CREATE TABLE received (seq INTEGER)`, `CREATE TABLE layers (record_seq INTEGER)`,
		`CREATE TABLE logs (record_seq INTEGER)`, `CREATE TABLE events (printer_id TEXT, seq INTEGER)`)
	return site, cloud
}

func TestAudit(t *testing.T) {
	tests := []struct {
		name    string
		stmts   []string
		pruned  int64
		through uint64
		want    bool
		detail  string
	}{
		{"every record once", []string{
			`INSERT INTO received VALUES (1), (2)`, `INSERT INTO layers VALUES (3), (4)`, `INSERT INTO logs VALUES (5)`,
		}, 0, 0, true, ""},
		{"pruned layers", []string{`INSERT INTO received VALUES (1), (2)`, `INSERT INTO logs VALUES (5)`}, 2, 0, true, ""},
		{"lost", []string{`INSERT INTO received VALUES (1), (2)`, `INSERT INTO logs VALUES (5)`}, 0, 0, false, "2 records missing"},
		{"twice", []string{
			`INSERT INTO received VALUES (1), (2), (2)`, `INSERT INTO layers VALUES (3), (4)`, `INSERT INTO logs VALUES (5)`,
		}, 0, 0, false, "1 held twice"},
		{"kept and held", []string{
			`INSERT INTO received VALUES (1), (2), (6)`, `INSERT INTO layers VALUES (3), (4)`, `INSERT INTO logs VALUES (5)`,
			`INSERT INTO outbox VALUES (6)`,
		}, 0, 0, false, "1 held while still in the outbox"},
		{"unnumbered", []string{
			`INSERT INTO received VALUES (1), (2), (99)`, `INSERT INTO layers VALUES (3), (4)`, `INSERT INTO logs VALUES (5)`,
		}, 0, 0, false, "never numbered"},
		{"numbered after the end", []string{
			`INSERT INTO received VALUES (1), (2), (5)`, `INSERT INTO layers VALUES (3), (4)`,
		}, 0, 4, true, "numbered 4 records"},
		{"an event missing", []string{
			`INSERT INTO received VALUES (1), (2)`, `INSERT INTO layers VALUES (3), (4)`, `INSERT INTO logs VALUES (5)`,
			`INSERT INTO events VALUES ('p', 1), ('p', 3)`,
		}, 0, 0, false, "printer p: 2 events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site, cloud := twoStores(t)
			if _, err := site.Exec(`INSERT INTO meta VALUES ('next_seq', '6')`); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tt.name, "kept") {
				site.Exec(`UPDATE meta SET value = '7'`)
			}
			for _, s := range tt.stmts {
				db := cloud
				if strings.Contains(s, "outbox") {
					db = site
				}
				if _, err := db.Exec(s); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Audit(context.Background(), site, cloud, tt.pruned, tt.through)
			if err != nil {
				t.Fatal(err)
			}
			if c.OK != tt.want || !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("Audit = %v %q, want %v and %q", c.OK, c.Detail, tt.want, tt.detail)
			}
		})
	}
}

func TestAuditWithoutStores(t *testing.T) {
	site, cloud := twoStores(t)
	if _, err := Audit(t.Context(), site, cloud, 0, 0); err == nil {
		t.Error("Audit of a gateway without next_seq: no error")
	}
	if _, _, _, err := Stored(t.Context(), site, cloud, 0); err == nil {
		t.Error("Stored of a gateway without next_seq: no error")
	}
}

func TestReportWrite(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 11, 7, 0, 0, 0, 0, time.UTC)
	r := Result{Start: start, Summary: []string{"soak: test"},
		Samples: []Sample{
			{Day: 0.5, RSS: 100 << 20, Disk: map[string]int64{"store": 1 << 20}, Rows: map[string]int64{"layers": 10}},
			{Day: 1, RSS: 110 << 20, Disk: map[string]int64{"store": 2 << 20}, Rows: map[string]int64{"layers": 12}},
		},
		Tables:  []Table{{Name: "layers", Rows: 12, Pruned: 30, Keep: 12 * time.Hour}},
		Verdict: Verdict{Checks: []Check{{Name: "a", OK: true, Detail: "fine"}, {Name: "b", Detail: "<bad>"}}},
	}
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.txt", "result.json", "report.html"} {
		if _, err := DirSize(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if got := r.Verdict.Failed(); !cmp.Equal(got, []string{"b"}) || r.Verdict.OK() {
		t.Errorf("Failed = %v, OK = %v", got, r.Verdict.OK())
	}
	if !strings.Contains(r.Text(), "FAIL b: <bad>") {
		t.Errorf("Text:\n%s", r.Text())
	}
	if n, err := DirSize(dir); err != nil || n == 0 {
		t.Errorf("DirSize = %d, %v", n, err)
	}
}
