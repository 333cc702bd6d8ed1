package commandcenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/backoff"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/klauspost/compress/zstd"
)

// Queue is the outbox as the uploader drains it (*outbox.Outbox is one):
// the records waiting per lane, and what becomes of them once sent.
type Queue interface {
	// Priority describes the alert and status records observed since
	// fresh: how many, the oldest's time, whether one is an alert and the
	// oldest status record that carries a state change.
	Priority(ctx context.Context, fresh time.Time) (outbox.Waiting, error)
	// HasBulk reports whether a bulk upload has anything to carry.
	HasBulk(ctx context.Context, fresh time.Time) (bool, error)
	// PendingLane returns up to limit records of one lane in seq order.
	PendingLane(ctx context.Context, priority bool, fresh time.Time, limit int) ([]fleet.Record, error)
	// AckSeqs deletes the records the cloud holds durably.
	AckSeqs(ctx context.Context, seqs []uint64) error
	// SetAside quarantines records the cloud refused for their content.
	SetAside(ctx context.Context, seqs []uint64, reason string, at time.Time) (int64, error)
}

var _ Queue = (*outbox.Outbox)(nil)

// Cloud accepts batches of records: an Ack says which are durable there.
type Cloud interface {
	Upload(ctx context.Context, b uplink.Batch) (uplink.Ack, error)
}

// UploaderOptions tunes an Uploader. The zero value works.
type UploaderOptions struct {
	// Interval is how often Run looks for new records when nothing is
	// scheduled sooner, and the first wait after a failure; 0 → 2 s.
	Interval   time.Duration
	BatchSize  int           // most records per upload; 0 → 500
	MaxBackoff time.Duration // longest wait after failures; 0 → 5 min
	// Retryable says whether an upload error may go away by itself (network,
	// 5xx). A permanent error (revoked gateway) is retried too, but only
	// every MaxBackoff, as the operator has to act. nil → every error is
	// retryable.
	Retryable func(error) bool
	// Refused says whether an error means the cloud refuses the batch for
	// its content, so that sending it again cannot help: the batch is
	// quarantined and the rest keeps flowing. nil → an *uplink.StatusError
	// 400, 409, 413 (for a single record; larger batches are split) or 422.
	Refused func(error) bool

	// PriorityDelay is the longest a routine status record waits for
	// others to share its upload; alerts go at once. 0 → 10 s.
	PriorityDelay time.Duration
	// ChangeDelay is the longest a status record that carries a change of
	// its printer's state (job started or ended, a fault: a state or job
	// other than its previous status record's) waits, so that changes of
	// several printers share an upload; at most PriorityDelay. 0 → 2 s.
	// Routine status (progress, the heartbeat) waits up to PriorityDelay,
	// and a change takes along whatever status is waiting.
	ChangeDelay time.Duration
	// PriorityWindow is how long alert and status records stay in the
	// priority lane; older ones (after an outage) are sent with the bulk
	// drain, oldest first, so fresh status overtakes a backlog. 0 → 2 min.
	PriorityWindow time.Duration
	// BulkInterval is how often bulk records are batched; 0 → 5 min.
	BulkInterval time.Duration

	// RateBytes caps the uplink: bytes per second of TCP payload, both
	// ways, TLS handshakes included, averaged by a token bucket. 0 →
	// DefaultRateBytes; < 0 → no cap.
	RateBytes float64
	// BurstBytes is the token bucket's size; 0 → 64 KiB.
	BurstBytes int
	// Budget is the cap shared with the uplink's other traffic (the
	// update mirror); nil → one of RateBytes and BurstBytes, for the
	// uploader alone. When set, RateBytes and BurstBytes are the Budget's.
	Budget *Budget
	// ReserveBytes of tokens the bulk drain leaves to the priority lane;
	// 0 → 16 KiB. At most half of BurstBytes.
	ReserveBytes int

	// UploadLog is how many upload attempts the log keeps; 0 → DefaultUploadLog.
	UploadLog int

	// Rand returns a number in [0, 1) for the jitter of retry waits; nil →
	// math/rand/v2.
	Rand func() float64

	// Queue is the outbox drained; nil → the store's (Store.Outbox).
	Queue Queue

	// OnAck receives the diagnostic requests every acknowledgement
	// carries, none included (DiagnosticRunner.Receive): the cloud hands
	// them over in its answers (R-ARCH-3). nil → ignored. An error is
	// logged; the upload stands.
	OnAck func(ctx context.Context, reqs []fleet.DiagnosticRequest) error

	Clock  clock.Clock  // nil → the real clock
	Logger *slog.Logger // nil → discard
}

// DefaultRateBytes is the default bandwidth cap: 1250 bytes/s = 10 kbit/s,
// 40 % of the whitepaper's site budget of 25 kbit/s (0.5 % of a 5 Mbit/s
// link), 0.2 % of the link. A 10-printer site in production needs far less
// (BenchmarkSiteUplink); the cap bounds the drain after an outage, which
// at this rate moves about 100,000 records an hour.
const DefaultRateBytes = 1250.0

// Wire overhead of one upload beyond its compressed body: TCP payload both
// ways (TLS handshake, HTTP request and answer headers, the JSON ack),
// measured by TestWireOverhead with a counting net.Conn against
// uplink.Client (Go 1.26 TLS 1.3, X25519MLKEM768 key shares, which cost
// about 2.3 KB a handshake): 3785 bytes with a resumed session, 4792 with
// a full handshake and httptest's single RSA-2048 certificate. The
// constants round up, and the full one allows 2.3 KB more for a real
// certificate chain of 2–3 certificates.
const (
	connOverheadResumed = 4096
	connOverheadFull    = 7168
	// tlsRecordOverhead is added per 16 KiB TLS record of body: header,
	// AEAD tag and content type.
	tlsRecordOverhead = 22
	// sessionReuse is how long after a connection the uploader assumes a
	// resumable TLS session (tickets live longer; this errs on the side of
	// counting full handshakes).
	sessionReuse = time.Hour
	// minPrioritySpacing keeps a burst of alerts from opening a connection
	// each.
	minPrioritySpacing = 2 * time.Second
	// defaultChangeDelay is UploaderOptions.ChangeDelay's default: with up
	// to 5 s until the poll that sees a change, a change reaches the cloud
	// within about 7 s (target: 10 s at p99), and the changes of a site's
	// printers within 2 s of each other share an upload.
	defaultChangeDelay = 2 * time.Second
)

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// wireBytes estimates the TCP payload of an upload with a body of n bytes.
func wireBytes(n int, resumed bool) int {
	overhead := connOverheadFull
	if resumed {
		overhead = connOverheadResumed
	}
	return overhead + n + (n/16384+1)*tlsRecordOverhead
}

// uploadTimeout bounds one upload, should the Cloud have no timeout of its own.
const uploadTimeout = 2 * time.Minute

// Uploader sends the outbox to the cloud. Records stay in the outbox until
// acknowledged, so an outage, a restart or a crash between upload and ack
// only causes a resend of the same sequence numbers, which the cloud
// deduplicates.
//
// Two lanes share one bandwidth cap. The priority lane carries alerts at
// once, a printer's change of state within ChangeDelay and routine status
// within PriorityDelay; the bulk lane carries the rest
// every BulkInterval, and after an outage drains the backlog oldest first,
// a batch after the other as the cap allows, always leaving ReserveBytes
// of the cap to the priority lane. A batch holds records in increasing seq
// order, and the uploader deletes exactly the records of the batch that the
// ack covers: a priority batch that overtook older bulk records
// acknowledges nothing else.
//
// An Uploader is driven by one goroutine: Run, or a test calling Step and
// UploadOnce.
type Uploader struct {
	queue Queue
	st    *Store // the upload log and the uplink state
	cloud Cloud
	opts  UploaderOptions
	log   *slog.Logger
	enc   *zstd.Encoder
	// backoff is the wait after failures: Interval doubled per failure up
	// to MaxBackoff, less up to half at random, so that many sites coming
	// back after a cloud outage do not all retry at once.
	backoff backoff.Policy

	bucket       *Budget
	failures     int
	retryAt      time.Time // no upload before
	lastPriority time.Time // the latest priority upload
	bulkDue      time.Time // the next bulk upload; zero: now
	lastBulkWire int       // wire bytes of the latest bulk upload
	lastConnect  time.Time // the latest exchange with the cloud
	lastStep     time.Time // the clock's time at the latest step
	limit        [2]int    // batch size per lane (0 priority, 1 bulk), halved on 413
}

// NewUploader returns an uploader of st's outbox to cloud; the attempts go
// to st's upload log.
func NewUploader(st *Store, cloud Cloud, opts UploaderOptions) *Uploader {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
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
	if opts.Refused == nil {
		opts.Refused = refusedByCloud
	}
	if opts.PriorityDelay <= 0 {
		opts.PriorityDelay = 10 * time.Second
	}
	if opts.ChangeDelay <= 0 {
		opts.ChangeDelay = defaultChangeDelay
	}
	opts.ChangeDelay = min(opts.ChangeDelay, opts.PriorityDelay)
	if opts.PriorityWindow <= 0 {
		opts.PriorityWindow = 2 * time.Minute
	}
	if opts.BulkInterval <= 0 {
		opts.BulkInterval = 5 * time.Minute
	}
	if opts.Budget == nil {
		opts.Budget = NewBudget(opts.RateBytes, opts.BurstBytes, opts.Clock)
	}
	opts.RateBytes, opts.BurstBytes = opts.Budget.b.rate, opts.Budget.burst()
	if opts.ReserveBytes <= 0 {
		opts.ReserveBytes = 16 << 10
	}
	opts.ReserveBytes = min(opts.ReserveBytes, opts.BurstBytes/2)
	if opts.UploadLog <= 0 {
		opts.UploadLog = DefaultUploadLog
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Queue == nil {
		opts.Queue = st.Outbox()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// These options cannot fail; a nil writer starts no goroutines. The
	// level is the uplink client's, so the logged size is the sent size.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		panic(fmt.Sprintf("commandcenter: zstd encoder options: %v", err)) // a programming error
	}
	return &Uploader{
		queue: opts.Queue, st: st, cloud: cloud, opts: opts, log: log.With("component", "uploader"), enc: enc,
		bucket:  opts.Budget,
		limit:   [2]int{opts.BatchSize, opts.BatchSize},
		backoff: backoff.Policy{Base: opts.Interval, Max: opts.MaxBackoff, Jitter: 0.5, Rand: opts.Rand},
	}
}

// refusedByCloud is the default UploaderOptions.Refused.
func refusedByCloud(err error) bool {
	se, ok := errors.AsType[*uplink.StatusError](err)
	if !ok {
		return false
	}
	switch se.Code {
	case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// errQuarantined marks an upload whose batch was set aside.
var errQuarantined = errors.New("batch quarantined")

// Run uploads until ctx is done, then returns nil. Failures are logged and
// retried with capped exponential backoff and jitter; a refused batch is
// quarantined and the next one follows.
func (u *Uploader) Run(ctx context.Context) error {
	for {
		wait, err := u.Step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, errQuarantined):
			u.log.Error("upload refused by the cloud, batch quarantined", "err", err)
		case err != nil:
			u.log.Warn("upload failed, will retry", "err", err, "attempt", u.failures, "wait", wait)
		}
		if wait <= 0 {
			continue
		}
		t := time.NewTimer(clock.Wall(u.opts.Clock, wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Step does what is due at the clock's time, at most one upload, and
// returns how long until something may be due next (0: at once).
func (u *Uploader) Step(ctx context.Context) (time.Duration, error) {
	now := u.opts.Clock.Now()
	u.followClock(now)
	if now.Before(u.retryAt) {
		return u.retryAt.Sub(now), nil
	}
	u.bucket.refill(now)
	fresh := now.Add(-u.opts.PriorityWindow)
	wait := u.opts.Interval
	w, err := u.queue.Priority(ctx, fresh)
	if err != nil {
		return wait, fmt.Errorf("upload: %w", err)
	}
	if w.N > 0 {
		// A record dated after now (the clock went back since it was
		// taken) waits no longer than one taken now.
		due := earliest(w.Oldest, now).Add(u.opts.PriorityDelay)
		if !w.OldestChange.IsZero() {
			due = earliest(due, earliest(w.OldestChange, now).Add(u.opts.ChangeDelay))
		}
		if w.Alert {
			due = now
		}
		if next := u.lastPriority.Add(minPrioritySpacing); due.Before(next) {
			due = next
		}
		switch {
		case now.Before(due):
			wait = min(wait, due.Sub(now))
		case u.bucket.has(1):
			_, w, err := u.send(ctx, true, now)
			return w, err
		default:
			wait = min(wait, u.bucket.until(1, now))
		}
	}
	has, err := u.queue.HasBulk(ctx, fresh)
	if err != nil {
		return wait, fmt.Errorf("upload: %w", err)
	}
	if has {
		need := float64(min(u.lastBulkWire+u.opts.ReserveBytes, u.opts.BurstBytes))
		switch {
		case now.Before(u.bulkDue):
			wait = min(wait, u.bulkDue.Sub(now))
		case u.bucket.has(need):
			_, w, err := u.send(ctx, false, now)
			return w, err
		default:
			wait = min(wait, u.bucket.until(need, now))
		}
	}
	return wait, nil
}

// UploadOnce uploads one batch now, whatever the schedule and the cap say:
// the fresh priority records if there are any, else the oldest others. It
// returns how many records the cloud acknowledged (0 with a nil error when
// nothing was pending).
func (u *Uploader) UploadOnce(ctx context.Context) (int, error) {
	now := u.opts.Clock.Now()
	u.followClock(now)
	u.bucket.refill(now)
	w, err := u.queue.Priority(ctx, now.Add(-u.opts.PriorityWindow))
	if err != nil {
		return 0, fmt.Errorf("upload: %w", err)
	}
	sent, _, err := u.send(ctx, w.N > 0, now)
	return sent, err
}

// send uploads one batch of a lane and stores what came of it. It returns
// how many records the cloud acknowledged and how long to wait before the
// next step.
func (u *Uploader) send(ctx context.Context, priority bool, now time.Time) (int, time.Duration, error) {
	lane := 1
	if priority {
		lane = 0
	}
	recs, err := u.queue.PendingLane(ctx, priority, now.Add(-u.opts.PriorityWindow), u.limit[lane])
	if err != nil {
		// Shown in the local UI: the outbox is stuck until someone looks.
		err = fmt.Errorf("upload: %w", err)
		return 0, u.failed(ctx, now, err, false), err
	}
	if len(recs) == 0 {
		return 0, 0, nil
	}
	first, last := recs[0].Seq, recs[len(recs)-1].Seq
	batch := uplink.Batch{Records: recs}
	raw, err := json.Marshal(batch)
	if err != nil {
		err = fmt.Errorf("upload records %d–%d: %w", first, last, err)
		return 0, u.failed(ctx, now, err, false), err
	}
	body := u.enc.EncodeAll(raw, make([]byte, 0, len(raw)/4))
	entry := UploadEntry{At: now, Kind: TransferData, Priority: priority, Records: len(recs), Kinds: map[fleet.Kind]int{},
		FirstSeq: first, LastSeq: last, BodyBytes: len(body),
		WireBytes: wireBytes(len(body), !u.lastConnect.IsZero() && now.Sub(u.lastConnect) < sessionReuse)}
	for _, r := range recs {
		entry.Kinds[r.Kind]++
	}

	uctx, cancel := context.WithTimeout(ctx, uploadTimeout)
	ack, err := u.cloud.Upload(uctx, batch)
	cancel()
	// An attempt counts against the cap in full when the cloud answered;
	// without an answer the body may not have left, the handshake may have.
	if _, answered := errors.AsType[*uplink.StatusError](err); err != nil && !answered {
		entry.WireBytes = connOverheadFull
	}
	u.bucket.take(float64(entry.WireBytes))
	if err == nil && ack.Through < first {
		err = fmt.Errorf("the cloud acknowledged none of records %d–%d (through %d)", first, last, ack.Through)
	}
	at := u.opts.Clock.Now()
	entry.At = at
	if err != nil {
		err = fmt.Errorf("upload records %d–%d: %w", first, last, err)
		wait, err := u.refusedOrFailed(ctx, entry, err, recs, body)
		return 0, wait, err
	}
	u.lastConnect = at
	// The ack covers the batch's records up to Through, and nothing else:
	// records not in the batch may be older (a priority batch overtook
	// them) and were not sent.
	var acked []uint64
	for _, r := range recs {
		if r.Seq <= ack.Through {
			acked = append(acked, r.Seq)
		}
	}
	if err := u.queue.AckSeqs(ctx, acked); err != nil {
		return 0, u.opts.Interval, fmt.Errorf("upload: %w", err)
	}
	if u.opts.OnAck != nil {
		if err := u.opts.OnAck(ctx, ack.Diagnostics); err != nil {
			u.log.Warn("cannot keep the diagnostic requests of an upload's answer", "err", err)
		}
	}
	entry.Outcome = UploadAcknowledged
	if len(acked) < len(recs) {
		entry.Error = fmt.Sprintf("the cloud acknowledged %d of %d records (through %d)", len(acked), len(recs), ack.Through)
	}
	if _, err := u.st.logUpload(ctx, entry, body, u.opts.UploadLog); err != nil {
		return len(acked), u.opts.Interval, fmt.Errorf("upload: %w", err)
	}
	if err := u.st.recordUpload(ctx, at, nil); err != nil {
		return len(acked), u.opts.Interval, fmt.Errorf("upload: %w", err)
	}
	u.failures = 0
	if priority {
		u.lastPriority = at
	} else {
		u.lastBulkWire = entry.WireBytes
		u.bulkDue = at.Add(u.opts.BulkInterval)
		if len(recs) == u.limit[lane] {
			u.bulkDue = at // a backlog: drain on, as the cap allows
		}
	}
	return len(acked), 0, nil
}

// refusedOrFailed handles a failed upload of recs: a batch the cloud
// refused is split (too large) or quarantined (only the records the cloud
// named, when it named some: the rest goes again at the next step); any
// other failure is retried after a backoff. It returns the wait before the next step and
// the error to report.
func (u *Uploader) refusedOrFailed(ctx context.Context, entry UploadEntry, err error, recs []fleet.Record, body []byte) (time.Duration, error) {
	if !u.opts.Refused(err) {
		entry.Outcome, entry.Error = UploadFailed, err.Error()
		if _, lerr := u.st.logUpload(ctx, entry, nil, u.opts.UploadLog); lerr != nil {
			u.warn(ctx, "cannot log upload", lerr)
		}
		return u.failed(ctx, entry.At, err, u.opts.Retryable(err)), err
	}
	u.lastConnect = entry.At
	lane := 1
	if entry.Priority {
		lane = 0
	}
	if se, ok := errors.AsType[*uplink.StatusError](err); ok && se.Code == http.StatusRequestEntityTooLarge && len(recs) > 1 {
		u.limit[lane] = len(recs) / 2
		entry.Outcome, entry.Error = UploadSplit, err.Error()
		if _, lerr := u.st.logUpload(ctx, entry, nil, u.opts.UploadLog); lerr != nil {
			u.warn(ctx, "cannot log upload", lerr)
		}
		return 0, err
	}
	seqs := refusedSeqs(err, recs)
	if _, qerr := u.queue.SetAside(ctx, seqs, err.Error(), entry.At); qerr != nil {
		err = errors.Join(err, qerr)
		return u.failed(ctx, entry.At, err, false), err
	}
	entry.Outcome, entry.Error = UploadQuarantined, err.Error()
	if _, lerr := u.st.logUpload(ctx, entry, body, u.opts.UploadLog); lerr != nil {
		u.warn(ctx, "cannot log upload", lerr)
	}
	err = fmt.Errorf("%w: %w", errQuarantined, err)
	if serr := u.st.recordUpload(ctx, entry.At, err); serr != nil {
		u.warn(ctx, "cannot record upload outcome", serr)
	}
	return 0, err
}

// refusedSeqs returns the records of recs that a refusal sets aside: those
// the cloud named (uplink.ErrorBody.Refused), when it refused only some
// records of the batch for what they are, so that the rest is sent again
// at the next step instead of being held with them; else all of recs.
func refusedSeqs(err error, recs []fleet.Record) []uint64 {
	var named map[uint64]bool
	if se, ok := errors.AsType[*uplink.StatusError](err); ok && len(se.Refused) > 0 {
		named = make(map[uint64]bool, len(se.Refused))
		for _, s := range se.Refused {
			named[s] = true
		}
	}
	var all, some []uint64
	for _, r := range recs {
		all = append(all, r.Seq)
		if named[r.Seq] {
			some = append(some, r.Seq)
		}
	}
	if len(some) == 0 {
		// Named none of the batch's records: a refusal this Command
		// Center cannot place, of the whole batch.
		return all
	}
	return some
}

// failed records a failure and schedules the retry: soon with backoff when
// the error may go away, after MaxBackoff when the operator has to act.
func (u *Uploader) failed(ctx context.Context, at time.Time, err error, retryable bool) time.Duration {
	u.failures++
	wait := u.opts.MaxBackoff
	if retryable {
		wait = u.backoff.Delay(u.failures)
	}
	if se, ok := errors.AsType[*uplink.StatusError](err); ok && se.RetryAfter > wait {
		wait = min(se.RetryAfter, u.opts.MaxBackoff)
	}
	u.retryAt = at.Add(wait)
	if serr := u.st.recordUpload(ctx, at, err); serr != nil {
		u.warn(ctx, "cannot record upload outcome", serr)
	}
	return wait
}

// followClock moves the schedule back with a clock that went back (set
// by hand, or by a time service after a jump ahead): what was due in a
// second is due in a second still, not after the hours or days the clock
// lost. Before, a clock set back by two days held every upload for two
// days (found by site's TestClockJumps).
func (u *Uploader) followClock(now time.Time) {
	if !u.lastStep.IsZero() && now.Before(u.lastStep) {
		d := u.lastStep.Sub(now)
		for _, t := range []*time.Time{&u.retryAt, &u.lastPriority, &u.bulkDue, &u.lastConnect} {
			if !t.IsZero() {
				*t = t.Add(-d)
			}
		}
		u.log.Warn("the clock went back; the upload schedule follows it", "by", d)
	}
	u.lastStep = now
}

// warn logs that an upload's outcome could not be kept, unless ctx has
// ended: an upload cut short by the node's stop is no failure to keep, and
// the store refuses the write for the same reason.
func (u *Uploader) warn(ctx context.Context, msg string, err error) {
	if ctx.Err() == nil {
		u.log.Warn(msg, "err", err)
	}
}

// tokenBucket meters bytes on the injected clock. Tokens may go negative:
// an upload larger than what is left goes out and the debt is paid before
// the next. rate < 0 means no cap.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time // zero: full
}

func (b *tokenBucket) refill(now time.Time) {
	if b.last.IsZero() {
		b.tokens, b.last = b.burst, now
		return
	}
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	// A clock that went back restarts the measure from now: the bucket
	// refills from there instead of waiting for the clock to catch up.
	b.last = now
}

func (b *tokenBucket) has(n float64) bool { return b.rate < 0 || b.tokens >= n }

func (b *tokenBucket) take(n float64) {
	if b.rate >= 0 {
		b.tokens -= n
	}
}

// until returns how long until the bucket holds n tokens.
func (b *tokenBucket) until(n float64, now time.Time) time.Duration {
	if b.has(n) {
		return 0
	}
	d := time.Duration(math.Ceil((n - b.tokens) / b.rate * float64(time.Second)))
	return max(d-now.Sub(b.last), time.Millisecond)
}
