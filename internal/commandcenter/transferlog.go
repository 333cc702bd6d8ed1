package commandcenter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/fusionfleet/fusionfleet/internal/clock"
)

// The update mirror's fetches go over the uplink like the uploads (the
// uplink's transport, the shared bandwidth Budget), so the upload log — the
// site's record of what passed over its link to the cloud (R-PRIV-5) —
// lists them too, as kind TransferMirror, and the bandwidth it reports
// includes them.

// TransferLogOptions tunes TransferLog. The zero value works.
type TransferLogOptions struct {
	Clock  clock.Clock  // nil → the real clock
	Logger *slog.Logger // nil → discard
	// Keep is how many entries the upload log keeps; 0 → DefaultUploadLog.
	Keep int
}

// TransferLog returns rt with every request it carries recorded in the
// upload log as a transfer of kind TransferMirror: when the answer's body
// is closed (its bytes then known) or when no answer came. A failure to
// write the log is logged and does not fail the transfer.
func (s *Store) TransferLog(rt http.RoundTripper, opts TransferLogOptions) http.RoundTripper {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Keep <= 0 {
		opts.Keep = DefaultUploadLog
	}
	return &loggedTransport{st: s, rt: rt, opts: opts}
}

type loggedTransport struct {
	st   *Store
	rt   http.RoundTripper
	opts TransferLogOptions
}

func (t *loggedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	e := UploadEntry{Kind: TransferMirror, Path: req.URL.Path}
	sent := max(req.ContentLength, 0)
	// Recorded apart from the request's context: a fetch given up still
	// took the link.
	ctx := context.WithoutCancel(req.Context())
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		e.Outcome, e.Error, e.WireBytes = UploadFailed, err.Error(), connOverheadFull+int(sent)
		t.log(ctx, e)
		return nil, err
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		e.Outcome = UploadFetched
	case resp.StatusCode == http.StatusNotFound:
		e.Outcome = UploadAbsent
	default:
		e.Outcome, e.Error = UploadFailed, fmt.Sprintf("the cloud answered %s", resp.Status)
	}
	resp.Body = &loggedBody{ReadCloser: resp.Body, done: func(n int64, readErr error) {
		e.BodyBytes, e.WireBytes = int(n), connOverheadFull+int(sent+n)
		if readErr != nil && e.Outcome != UploadFailed {
			e.Outcome, e.Error = UploadFailed, readErr.Error()
		}
		t.log(ctx, e)
	}}
	return resp, nil
}

func (t *loggedTransport) log(ctx context.Context, e UploadEntry) {
	e.At = t.opts.Clock.Now()
	if _, err := t.st.logUpload(ctx, e, nil, t.opts.Keep); err != nil {
		t.opts.Logger.Warn("cannot log the mirror's transfer", "path", e.Path, "err", err)
	}
}

// loggedBody counts the bytes read from an answer and reports them, with
// the read error that ended it (not io.EOF), once, when it is closed.
type loggedBody struct {
	io.ReadCloser
	n       int64
	readErr error
	once    sync.Once
	done    func(n int64, readErr error)
}

func (b *loggedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		b.readErr = err
	}
	return n, err
}

func (b *loggedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.done(b.n, b.readErr) })
	return err
}
