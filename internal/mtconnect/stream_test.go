package mtconnect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// fakeSource is a Command Center's store in memory, for tests on
// synctest's fake time (the real store's connections belong to no
// bubble).
type fakeSource struct {
	mu sync.Mutex
	ps []commandcenter.Printer
}

func (f *fakeSource) Printers(context.Context) ([]commandcenter.Printer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]commandcenter.Printer(nil), f.ps...), nil
}

func (f *fakeSource) Events(context.Context, int64, int) ([]commandcenter.LocalEvent, error) {
	return nil, nil
}

func (f *fakeSource) LatestSnapshot(context.Context, int64) (commandcenter.Snapshot, error) {
	return commandcenter.Snapshot{}, nil
}

// setLayers sets the layers the one printer has printed.
func (f *fakeSource) setLayers(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := printingStatus(t0)
	st.Job.LayersDone = n
	f.ps = []commandcenter.Printer{{ID: 1, State: commandcenter.CollectionOK, Status: &st,
		Identity: &deviceapi.Identity{Identity: fleet.Identity{PrinterID: "printer-uuid-0001", Name: "3DP 1", Model: "4200", SerialNumber: "SN1"}}}}
}

// streamHeader is the part of a streamed document's header the tests read.
type streamHeader struct {
	Header struct {
		Instance string `xml:"instanceId,attr"`
		Next     uint64 `xml:"nextSequence,attr"`
	} `xml:"Header"`
	Layers []string `xml:"Streams>DeviceStream>ComponentStream>Events>MaterialLayer"`
}

// pipeWriter is a ResponseWriter whose flushed bytes a test reads from r.
type pipeWriter struct {
	header http.Header
	w      *io.PipeWriter
	buf    bytes.Buffer
}

func (p *pipeWriter) Header() http.Header         { return p.header }
func (p *pipeWriter) WriteHeader(int)             {}
func (p *pipeWriter) Write(b []byte) (int, error) { return p.buf.Write(b) }
func (p *pipeWriter) Flush() {
	p.w.Write(p.buf.Bytes())
	p.buf.Reset()
}

// A sample stream sends what is new as it comes, an empty document after
// each heartbeat without news, and ends when the client leaves.
func TestStreamHeartbeatAndNews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{}
		src.setLayers(10)
		a := New(src, Options{})
		if err := a.Sample(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, _, next := a.buf.current()
		ctx, cancel := context.WithCancel(t.Context())
		r, w := io.Pipe()
		pw := &pipeWriter{header: http.Header{}, w: w}
		done := make(chan struct{})
		go func() {
			defer close(done)
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/sample?interval=100&heartbeat=1000&from="+u64(next), nil)
			a.Handler().ServeHTTP(pw, req)
			w.Close()
		}()
		mr := readParts(t, r, pw)
		start := time.Now()

		// Nothing new: the first part is empty, and so is the next, a
		// heartbeat later.
		for i := range 2 {
			h := nextPart(t, mr)
			if len(h.Layers) != 0 || h.Header.Next != next {
				t.Fatalf("part %d: %d layers, next %d; want none, next %d", i, len(h.Layers), h.Header.Next, next)
			}
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("heartbeat after %v, want 1s", got)
		}
		// A new layer is sent at once.
		time.Sleep(300 * time.Millisecond)
		src.setLayers(11)
		if err := a.Sample(t.Context()); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		h := nextPart(t, mr)
		if time.Since(at) != 0 || len(h.Layers) != 1 || h.Layers[0] != "11" || h.Header.Next != next+1 {
			t.Errorf("news after %v: layers %v, next %d; want [11] at once, next %d", time.Since(at), h.Layers, h.Header.Next, next+1)
		}
		cancel()
		io.Copy(io.Discard, r)
		<-done
	})
}

// partReader reads the parts of a multipart/x-mixed-replace stream by
// their Content-length, each as soon as it is written (a MIME multipart
// reader would wait for the next boundary).
type partReader struct {
	br       *bufio.Reader
	boundary string
}

// readParts checks that the stream is multipart/x-mixed-replace and
// returns its reader.
func readParts(t *testing.T, r io.Reader, pw *pipeWriter) *partReader {
	t.Helper()
	br := bufio.NewReader(r)
	if _, err := br.Peek(1); err != nil { // the first part written
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(pw.header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q: want multipart/x-mixed-replace with a boundary", pw.header.Get("Content-Type"))
	}
	return &partReader{br: br, boundary: params["boundary"]}
}

// next returns the next part's body.
func (pr *partReader) next() ([]byte, error) {
	line, err := pr.br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if line != "--"+pr.boundary+"\r\n" {
		return nil, fmt.Errorf("boundary line %q", line)
	}
	tp := textproto.NewReader(pr.br)
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	if h.Get("Content-Type") != "text/xml" {
		return nil, fmt.Errorf("part of type %q", h.Get("Content-Type"))
	}
	n, err := strconv.Atoi(h.Get("Content-Length"))
	if err != nil {
		return nil, fmt.Errorf("Content-length %q", h.Get("Content-Length"))
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(pr.br, b); err != nil {
		return nil, err
	}
	if string(b[n:]) != "\r\n" {
		return nil, fmt.Errorf("part does not end after its Content-length: %q", b[n:])
	}
	return b[:n], nil
}

func nextPart(t *testing.T, pr *partReader) streamHeader {
	t.Helper()
	b, err := pr.next()
	if err != nil {
		t.Fatal(err)
	}
	var h streamHeader
	if err := xml.Unmarshal(b, &h); err != nil {
		t.Fatalf("part: %v\n%s", err, b)
	}
	return h
}

// Streams are bounded: one more than MaxStreams is refused with TOO_MANY,
// and a client that falls behind the buffer gets OUT_OF_RANGE.
func TestStreamLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{}
		src.setLayers(1)
		a := New(src, Options{MaxStreams: 1, BufferSize: 30})
		a.Sample(t.Context())
		ctx, cancel := context.WithCancel(t.Context())
		r, w := io.Pipe()
		pw := &pipeWriter{header: http.Header{}, w: w}
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.Handler().ServeHTTP(pw, httptest.NewRequestWithContext(ctx, http.MethodGet, "/sample?interval=10&count=1", nil))
			w.Close()
		}()
		mr := readParts(t, r, pw)
		nextPart(t, mr)
		synctest.Wait() // the stream waits out its interval

		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/current?interval=10", nil))
		if rec.Code != http.StatusServiceUnavailable || errorOf(t, rec.Body.Bytes()) != TooMany {
			t.Errorf("a second stream: %d %s, want 503 TOO_MANY", rec.Code, rec.Body)
		}
		// The buffer of 30 wraps before the reader (one observation a
		// part) gets far.
		for i := range 40 {
			src.setLayers(i + 2)
			a.Sample(t.Context())
		}
		for {
			b, err := mr.next()
			if err != nil {
				t.Fatalf("stream ended without OUT_OF_RANGE: %v", err)
			}
			if bytes.Contains(b, []byte("MTConnectError")) {
				if errorOf(t, b) != OutOfRange {
					t.Errorf("last part: %s, want OUT_OF_RANGE", b)
				}
				break
			}
		}
		cancel()
		io.Copy(io.Discard, r)
		<-done
	})
}

// Over a real connection the parts arrive as written: the first at once,
// then a heartbeat, each flushed through the server.
func TestStreamOverHTTP(t *testing.T) {
	_, a, _ := scene(t, Options{})
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	_, _, next := a.buf.current()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/sample?interval=10&heartbeat=50&from="+u64(next), nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" {
		t.Fatalf("Content-Type %q", res.Header.Get("Content-Type"))
	}
	pr := &partReader{br: bufio.NewReader(res.Body), boundary: params["boundary"]}
	for i := range 2 {
		if h := nextPart(t, pr); h.Header.Next != next {
			t.Errorf("part %d: next %d, want %d", i, h.Header.Next, next)
		}
	}
}

// Run reads the store every SampleInterval, and ends its streams when it
// stops.
func TestRunSamplesAndEndsStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{}
		src.setLayers(1)
		a := New(src, Options{SampleInterval: 2 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		ran := make(chan error)
		go func() { ran <- a.Run(ctx) }()
		synctest.Wait()
		layer := func() string {
			o, _ := a.buf.latestOf("p1_path_layer")
			return o.value
		}
		if got := layer(); got != "1" {
			t.Fatalf("after the first read: layer %q, want 1", got)
		}
		src.setLayers(2)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := layer(); got != "1" {
			t.Errorf("a second later: layer %q, want 1 until the next read", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := layer(); got != "2" {
			t.Errorf("at the next read: layer %q, want 2", got)
		}

		r, w := io.Pipe()
		pw := &pipeWriter{header: http.Header{}, w: w}
		served := make(chan struct{})
		go func() {
			defer close(served)
			a.Handler().ServeHTTP(pw, httptest.NewRequest(http.MethodGet, "/current?interval=1000", nil))
			w.Close()
		}()
		nextPart(t, readParts(t, r, pw))
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
		io.Copy(io.Discard, r)
		<-served // the stream ended with Run
	})
}
