package commandcenter

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// brokenBody fails in the middle of an answer.
type brokenBody struct{ io.Reader }

func (brokenBody) Close() error { return nil }

// failMidway answers with a body that breaks after a few bytes.
type failMidway struct{}

func (failMidway) RoundTrip(req *http.Request) (*http.Response, error) {
	body := io.MultiReader(strings.NewReader("12345"), iotest.ErrReader(errors.New("connection reset")))
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Body: brokenBody{body}, Request: req}, nil
}

// The update mirror's fetches are in the upload log as kind "mirror", with
// what they fetched, their outcome and the bytes they took, and the
// uplink's bandwidth and wire-byte counter include them; they are no
// uploads for the upload counters. Before, the mirror's transfers took the
// link without a trace in the log.
func TestTransferLogRecordsMirrorFetches(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	clk := clock.NewManual(t0)
	m := NewMetrics(st, MetricsOptions{Clock: clk})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tuf/timestamp.json":
			io.WriteString(w, strings.Repeat("t", 1000))
		case "/tuf/2.root.json":
			http.NotFound(w, r)
		default:
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()

	get := func(rt http.RoundTripper, path string) error {
		t.Helper()
		clk.Advance(time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	logged := st.TransferLog(http.DefaultTransport, TransferLogOptions{Clock: clk})
	for _, p := range []string{"/tuf/timestamp.json", "/tuf/2.root.json", "/tuf/snapshot.json"} {
		if err := get(logged, p); err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
	}
	if err := get(st.TransferLog(failMidway{}, TransferLogOptions{Clock: clk}), "/tuf/targets.json"); err == nil {
		t.Fatal("a body that breaks read whole")
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, down.URL+"/tuf/1.root.json", nil)
	clk.Advance(time.Second)
	if _, err := logged.RoundTrip(req); err == nil {
		t.Fatal("a fetch from a closed server succeeded")
	}

	es, err := st.Uploads(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var notFound int
	for _, e := range es {
		if e.Path == "/tuf/2.root.json" {
			notFound = e.BodyBytes // the server's 404 text
		}
	}
	want := []UploadEntry{
		{Kind: TransferMirror, Path: "/tuf/1.root.json", Outcome: UploadFailed, WireBytes: connOverheadFull, At: t0.Add(5 * time.Second)},
		{Kind: TransferMirror, Path: "/tuf/targets.json", Outcome: UploadFailed, Error: "connection reset", BodyBytes: 5, WireBytes: connOverheadFull + 5, At: t0.Add(4 * time.Second)},
		{Kind: TransferMirror, Path: "/tuf/snapshot.json", Outcome: UploadFailed, Error: "the cloud answered 500 Internal Server Error",
			BodyBytes: len("broken\n"), WireBytes: connOverheadFull + len("broken\n"), At: t0.Add(3 * time.Second)},
		{Kind: TransferMirror, Path: "/tuf/2.root.json", Outcome: UploadAbsent, BodyBytes: notFound, WireBytes: connOverheadFull + notFound, At: t0.Add(2 * time.Second)},
		{Kind: TransferMirror, Path: "/tuf/timestamp.json", Outcome: UploadFetched, BodyBytes: 1000, WireBytes: connOverheadFull + 1000, At: t0.Add(time.Second)},
	}
	if len(es) > 0 && strings.Contains(es[0].Error, "connection refused") {
		want[0].Error = es[0].Error // the transport's words
	}
	if diff := cmp.Diff(want, es, cmpopts.IgnoreFields(UploadEntry{}, "ID"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("upload log (-want +got):\n%s", diff)
	}
	if notFound == 0 {
		t.Error("the 404's body was not counted")
	}

	var wire int
	for _, e := range es {
		wire += e.WireBytes
	}
	bw, err := st.Bandwidth(ctx, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := bw.Current, float64(wire*8)/60; got != want {
		t.Errorf("bandwidth over the last minute = %v bit/s, want the fetches' %v", got, want)
	}
	if got := testutil.ToFloat64(collectorOf(m, m.wireBytes)); got != float64(wire) {
		t.Errorf("wire bytes counter = %v, want the fetches' %d", got, wire)
	}
	if got := testutil.ToFloat64(collectorOf(m, m.uploadBytes)); got != 0 {
		t.Errorf("upload body bytes = %v, want 0: the fetches are no uploads", got)
	}
	for o, n := range m.counted {
		if n != 0 {
			t.Errorf("uploads_total{outcome=%q} = %d, want 0: the fetches are no uploads", o, n)
		}
	}
}

// An upload log written before the log had kinds reads, after the
// upgrade, as data uploads.
func TestUploadLogBeforeKinds(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cc.db")
	all := os.DirFS("../sitedb/schema")
	before := fstest.MapFS{}
	for _, name := range []string{"001_init.sql", "002_collection.sql", "003_delivery.sql", "004_updates.sql"} {
		b, err := fs.ReadFile(all, name)
		if err != nil {
			t.Fatal(err)
		}
		before[name] = &fstest.MapFile{Data: b}
	}
	db, err := sqlitedb.Open(ctx, path, before)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO uploads (at, at_ms, lane, outcome, records, kinds, first_seq, last_seq,
		body_bytes, wire_bytes) VALUES (?, ?, 1, 'acknowledged', 3, '{"gap":3}', 1, 3, 100, 7300)`,
		sqlitedb.FormatTime(t0), t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	es, err := st.Uploads(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Kind != TransferData || es[0].Path != "" || es[0].Records != 3 {
		t.Errorf("uploads after the upgrade = %+v, want the one data upload", es)
	}
}
