package uplink

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// encodingServer is a cloud behind real TLS that remembers the
// Content-Encoding of every upload; with oldCloud set it refuses zstd as a
// cloud from before zstd did.
type encodingServer struct {
	mu   sync.Mutex
	seen []string
	srv  *httptest.Server
	gws  *fakeGateways
	pub  *fakePublisher
}

func newEncodingServer(t *testing.T, oldCloud bool) *encodingServer {
	t.Helper()
	s := &encodingServer{gws: newFakeGateways(), pub: &fakePublisher{}}
	h := NewHandler(s.gws, &fakePrinters{}, s.pub, HandlerOptions{Clock: clock.NewManual(t0)})
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := r.Header.Get("Content-Encoding")
		s.mu.Lock()
		s.seen = append(s.seen, enc)
		s.mu.Unlock()
		if oldCloud && enc == "zstd" {
			writeError(w, http.StatusUnsupportedMediaType, ErrorBody{Error: `unsupported content encoding "zstd": use gzip`})
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *encodingServer) encodings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func TestClientCompression(t *testing.T) {
	tests := []struct {
		name        string
		compression string
		oldCloud    bool
		want        []string // Content-Encoding of each request, two uploads
	}{
		{"default is zstd", "", false, []string{"zstd", "zstd"}},
		{"zstd", CompressionZstd, false, []string{"zstd", "zstd"}},
		{"gzip", CompressionGzip, false, []string{"gzip", "gzip"}},
		{"old cloud: gzip after one 415, for good", "", true, []string{"zstd", "gzip", "gzip"}},
		{"old cloud, gzip chosen", CompressionGzip, true, []string{"gzip", "gzip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newEncodingServer(t, tt.oldCloud)
			cred := newGateway(t, s.gws, "gw-a")
			c, err := NewClient(s.srv.URL, ClientOptions{RootCAs: poolOf(s.srv), Clock: clock.NewManual(t0), Compression: tt.compression})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				ack, err := c.Upload(t.Context(), cred, batchOf(uint64(2*i+1), uint64(2*i+2)))
				if err != nil {
					t.Fatalf("Upload %d: %v", i, err)
				}
				if ack.Through != uint64(2*i+2) {
					t.Errorf("Upload %d: ack through %d", i, ack.Through)
				}
			}
			if diff := cmp.Diff(tt.want, s.encodings()); diff != "" {
				t.Errorf("encodings (-want +got):\n%s", diff)
			}
			if n := len(s.pub.published()); n != 2 {
				t.Errorf("published %d batches, want 2", n)
			}
		})
	}
}

func TestClientCompressionRefused(t *testing.T) {
	_, err := NewClient("https://cloud.example", ClientOptions{Compression: "br"})
	if err == nil || !strings.Contains(err.Error(), `compression "br"`) {
		t.Errorf("NewClient(br) = %v, want an error naming the compression", err)
	}
}

// typicalBatch is what a busy site sends: mostly layer records, a status
// per printer, some events.
func typicalBatch(n int) Batch {
	var b Batch
	start := t0
	for i := range n {
		seq := uint64(i + 1)
		p := fleet.PrinterID("printer-" + string(rune('0'+i%8)) + "aK3x")
		var r fleet.Record
		switch {
		case i%50 == 0:
			r = fleet.Record{Seq: seq, Kind: fleet.KindStatus, PrinterID: p, Time: start, Status: &fleet.Status{
				PrinterID: p, State: fleet.StatePrinting, Activity: "printing layer 812 of 4750", JobID: "j7Qx2", Progress: float64(i%100) / 100, ETCSeconds: int64(3600 - i), Time: start}}
		case i%25 == 0:
			r = fleet.Record{Seq: seq, Kind: fleet.KindEvent, PrinterID: p, Time: start, Event: &fleet.Event{
				Seq: seq, Code: "W-2104", Description: "fusing lamp intensity below 80 %", Severity: fleet.SeverityWarning, Time: start, Firmware: "5.4.1", Subsystem: "lamps"}}
		default:
			r = fleet.Record{Seq: seq, Kind: fleet.KindLayer, PrinterID: p, Time: start, Layer: &fleet.Layer{
				Seq: seq, JobID: "j7Qx2", Index: i + 1, SizeMM2: 41234.5 + float64(i%97)*13.25, DurationSec: 8.7 + float64(i%7)/10,
				Start: start, End: start.Add(8700 * time.Millisecond)}}
		}
		b.Records = append(b.Records, r)
		start = start.Add(9 * time.Second)
	}
	return b
}

// The default compression is zstd because it makes a typical batch smaller
// than gzip does.
func TestZstdSmallerThanGzip(t *testing.T) {
	for _, n := range []int{50, 500} {
		raw := mustJSON(t, typicalBatch(n))
		gzipped, zstded := gz(t, raw), zst(t, raw)
		c, err := NewClient("https://cloud.example", ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fromClient, enc, err := c.compress(raw, true)
		if err != nil || enc != CompressionZstd {
			t.Fatalf("compress: %s, %v", enc, err)
		}
		t.Logf("%d records: JSON %d bytes, gzip %d (%.1f%%), zstd %d (%.1f%%), client's zstd %d", n, len(raw),
			len(gzipped), 100*float64(len(gzipped))/float64(len(raw)), len(zstded), 100*float64(len(zstded))/float64(len(raw)), len(fromClient))
		if len(fromClient) >= len(gzipped) {
			t.Errorf("%d records: zstd %d bytes, gzip %d: zstd is not smaller", n, len(fromClient), len(gzipped))
		}
	}
}

// The client's zstd level costs little size against the default level:
// at most 2 % on a typical batch.
func TestZstdLevel(t *testing.T) {
	raw := mustJSON(t, typicalBatch(500))
	c, err := NewClient("https://cloud.example", ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := c.compress(raw, true)
	if err != nil {
		t.Fatal(err)
	}
	def, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		t.Fatal(err)
	}
	want := def.EncodeAll(raw, nil)
	t.Logf("JSON %d bytes: client's level %d bytes, default level %d bytes (%+.1f%%)", len(raw), len(got), len(want), 100*(float64(len(got))/float64(len(want))-1))
	if float64(len(got)) > 1.02*float64(len(want)) {
		t.Errorf("client's zstd gives %d bytes, default level %d: more than 2 %% larger", len(got), len(want))
	}
	if back, err := zstd.NewReader(nil); err != nil {
		t.Fatal(err)
	} else if dec, err := back.DecodeAll(got, nil); err != nil || !bytes.Equal(dec, raw) {
		t.Errorf("client's zstd does not round-trip: %v", err)
	}
}
