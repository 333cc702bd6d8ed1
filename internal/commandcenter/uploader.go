package commandcenter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// Cloud accepts batches of records: an Ack says which are durable there.
type Cloud interface {
	Upload(ctx context.Context, b uplink.Batch) (uplink.Ack, error)
}

// UploaderOptions tunes an Uploader. The zero value works.
type UploaderOptions struct {
	Interval   time.Duration // between looks at an empty or drained outbox; 0 → 5 s
	BatchSize  int           // records per upload; 0 → 500
	MaxBackoff time.Duration // longest wait after failures; 0 → 5 min
	// Retryable says whether an upload error may go away by itself (network,
	// 5xx). A permanent error (revoked gateway, refused batch) is retried
	// too, but only every MaxBackoff, as the operator has to act. nil →
	// every error is retryable.
	Retryable func(error) bool
	Clock     clock.Clock  // nil → the real clock
	Logger    *slog.Logger // nil → discard
}

// uploadTimeout bounds one upload, should the Cloud have no timeout of its own.
const uploadTimeout = 2 * time.Minute

// Uploader sends the outbox to the cloud in sequence order, deleting what
// the cloud acknowledged. Records stay in the outbox until acknowledged, so
// an outage, a restart or a crash between upload and ack only causes a
// resend of the same sequence numbers, which the cloud deduplicates.
type Uploader struct {
	st    *Store
	cloud Cloud
	opts  UploaderOptions
	log   *slog.Logger
}

// NewUploader returns an uploader of st's outbox to cloud.
func NewUploader(st *Store, cloud Cloud, opts UploaderOptions) *Uploader {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.Retryable == nil {
		opts.Retryable = func(error) bool { return true }
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Uploader{st: st, cloud: cloud, opts: opts, log: log.With("component", "uploader")}
}

// Run uploads until ctx is done, then returns nil. Failures are logged and
// retried with capped exponential backoff and jitter; a full batch is
// followed by the next one at once.
func (u *Uploader) Run(ctx context.Context) error {
	failures := 0
	for {
		sent, err := u.UploadOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case err == nil && sent == u.opts.BatchSize:
			failures = 0
			continue
		case err == nil:
			failures = 0
			wait = u.opts.Interval
		case u.opts.Retryable(err):
			failures++
			wait = uploadBackoff(u.opts.Interval, u.opts.MaxBackoff, failures, rand.Float64())
			u.log.Warn("upload failed, will retry", "err", err, "attempt", failures, "wait", wait)
		default:
			failures++
			wait = u.opts.MaxBackoff
			u.log.Error("upload refused, will retry", "err", err, "wait", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// uploadBackoff is the wait after the n-th consecutive failure: base
// doubled n-1 times, capped at maxWait, then scaled by a jitter in
// [0.5, 1) drawn from r ∈ [0, 1) so that many sites coming back after a
// cloud outage do not all retry at once.
func uploadBackoff(base, maxWait time.Duration, n int, r float64) time.Duration {
	d := base
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return time.Duration(float64(d) * (0.5 + r/2))
}

// UploadOnce uploads one batch of the oldest pending records and
// acknowledges what the cloud acknowledged. It returns how many records the
// cloud acknowledged (0 with a nil error when nothing was pending).
func (u *Uploader) UploadOnce(ctx context.Context) (int, error) {
	recs, err := u.st.Pending(ctx, u.opts.BatchSize)
	if err != nil {
		err = fmt.Errorf("upload: %w", err)
		// Shown in the local UI: the outbox is stuck until someone looks.
		if serr := u.st.recordUpload(ctx, u.opts.Clock.Now(), err); serr != nil {
			return 0, errors.Join(err, serr)
		}
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	first, last := recs[0].Seq, recs[len(recs)-1].Seq
	uctx, cancel := context.WithTimeout(ctx, uploadTimeout)
	ack, err := u.cloud.Upload(uctx, uplink.Batch{Records: recs})
	cancel()
	if err == nil && ack.Through < first {
		err = fmt.Errorf("the cloud acknowledged none of records %d–%d (through %d)", first, last, ack.Through)
	}
	now := u.opts.Clock.Now()
	if err != nil {
		err = fmt.Errorf("upload records %d–%d: %w", first, last, err)
		if serr := u.st.recordUpload(ctx, now, err); serr != nil {
			return 0, errors.Join(err, serr)
		}
		return 0, err
	}
	// An ack beyond what was sent says nothing about records not sent.
	through := min(ack.Through, last)
	if err := u.st.Ack(ctx, through); err != nil {
		return 0, fmt.Errorf("upload: %w", err)
	}
	if err := u.st.recordUpload(ctx, now, nil); err != nil {
		return 0, fmt.Errorf("upload: %w", err)
	}
	sent := 0
	for _, r := range recs {
		if r.Seq <= through {
			sent++
		}
	}
	return sent, nil
}
