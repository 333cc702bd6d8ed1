package commandcenter

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/klauspost/compress/zstd"
)

// The upload log: every upload attempt with what it carried (R-PRIV-5),
// every fetch of the update mirror over the same uplink, the uplink's
// latest outcome and the bandwidth it took.

// UplinkState is what the Command Center knows about its link to the cloud
// (R-ARCH-8: warn when the cloud has not been reached for long).
type UplinkState struct {
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// UplinkState returns the outcome of the latest uploads.
func (s *Store) UplinkState(ctx context.Context) (UplinkState, error) {
	var ok, msg, at sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT
		(SELECT value FROM meta WHERE key = 'uplink_last_success'),
		(SELECT value FROM meta WHERE key = 'uplink_last_error'),
		(SELECT value FROM meta WHERE key = 'uplink_last_error_at')`).Scan(&ok, &msg, &at)
	if err != nil {
		return UplinkState{}, fmt.Errorf("read uplink state: %w", err)
	}
	var u UplinkState
	var errs []error
	u.LastSuccess, err = sqlitedb.ParseTime(ok.String)
	errs = append(errs, err)
	u.LastErrorAt, err = sqlitedb.ParseTime(at.String)
	errs = append(errs, err)
	u.LastError = msg.String
	if err := errors.Join(errs...); err != nil {
		return UplinkState{}, fmt.Errorf("read uplink state: %w", err)
	}
	return u, nil
}

// recordUpload stores the outcome of an upload attempt. A success clears
// the last error.
func (s *Store) recordUpload(ctx context.Context, at time.Time, uploadErr error) error {
	kv := map[string]string{"uplink_last_success": sqlitedb.FormatTime(at), "uplink_last_error": "", "uplink_last_error_at": ""}
	if uploadErr != nil {
		kv = map[string]string{"uplink_last_error": uploadErr.Error(), "uplink_last_error_at": sqlitedb.FormatTime(at)}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for k, v := range kv {
			if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record upload outcome: %w", err)
	}
	return nil
}

// UploadOutcome says what came of an upload attempt.
type UploadOutcome string

// The outcomes of an upload.
const (
	// UploadAcknowledged: the cloud holds the batch (or the part of it it
	// acknowledged) durably.
	UploadAcknowledged UploadOutcome = "acknowledged"
	// UploadFailed: the batch did not get through; it is sent again later.
	UploadFailed UploadOutcome = "failed"
	// UploadQuarantined: the cloud refused the batch for its content; its
	// records are kept aside (Quarantined).
	UploadQuarantined UploadOutcome = "quarantined"
	// UploadSplit: the cloud found the batch too large; it is sent again in
	// smaller batches.
	UploadSplit UploadOutcome = "split"
	// UploadFetched: the update mirror fetched a file from the cloud.
	UploadFetched UploadOutcome = "fetched"
	// UploadAbsent: the cloud has no such file. TUF asks for the next root
	// version at every sync, and it is absent until the root is rotated.
	UploadAbsent UploadOutcome = "absent"
)

// TransferKind says what a transfer in the upload log was for.
type TransferKind string

// The kinds of transfer over the uplink.
const (
	// TransferData: a batch of records sent to the cloud.
	TransferData TransferKind = "data"
	// TransferMirror: the update mirror's fetch of signed metadata or of a
	// target (firmware, parameter set) from the cloud.
	TransferMirror TransferKind = "mirror"
)

// DefaultUploadLog is how many entries the upload log keeps unless told.
const DefaultUploadLog = 5000

// UploadEntry is one upload attempt in the log of what was sent (R-PRIV-5).
type UploadEntry struct {
	ID   int64        `json:"id"`
	At   time.Time    `json:"at"`
	Kind TransferKind `json:"kind"`
	// Path is what a mirror transfer fetched (the URL path); empty for data.
	Path     string             `json:"path,omitempty"`
	Priority bool               `json:"priority"` // the alert and status lane, not bulk
	Outcome  UploadOutcome      `json:"outcome"`
	Error    string             `json:"error,omitempty"`
	Records  int                `json:"records"`
	Kinds    map[fleet.Kind]int `json:"kinds"`
	FirstSeq uint64             `json:"first_seq"`
	LastSeq  uint64             `json:"last_seq"`
	// BodyBytes is the compressed body; WireBytes the estimated TCP payload
	// of the whole exchange, TLS handshake and answer included.
	BodyBytes int `json:"body_bytes"`
	WireBytes int `json:"wire_bytes"`
	// HasPayload says whether Upload can show the payload: it is kept for
	// uploads the cloud acknowledged or refused, not for failed attempts
	// (the same records go out again).
	HasPayload bool `json:"has_payload"`
}

// UploadDetail is one upload with its payload.
type UploadDetail struct {
	UploadEntry
	// Payload is the batch's JSON exactly as it was compressed and sent;
	// nil when HasPayload is false.
	Payload json.RawMessage `json:"payload,omitempty"`
	Batch   uplink.Batch    `json:"-"`
}

// maxPayloadBytes bounds a stored payload once decompressed: the cloud
// refuses larger batches anyway.
const maxPayloadBytes = 64 << 20

// logUpload adds an attempt to the upload log with its compressed payload
// (nil: none) and keeps the newest keep entries.
func (s *Store) logUpload(ctx context.Context, e UploadEntry, payload []byte, keep int) (int64, error) {
	kinds, err := json.Marshal(e.Kinds)
	if err != nil {
		return 0, fmt.Errorf("log upload: %w", err)
	}
	lane := outbox.LaneBulk
	if e.Priority {
		lane = outbox.LaneStatus
	}
	var id int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO uploads (at, at_ms, kind, path, lane, outcome, error, records, kinds,
			first_seq, last_seq, body_bytes, wire_bytes, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			sqlitedb.FormatTime(e.At), e.At.UnixMilli(), string(cmp.Or(e.Kind, TransferData)), e.Path, int(lane), string(e.Outcome),
			e.Error, e.Records, string(kinds), int64(e.FirstSeq), int64(e.LastSeq), e.BodyBytes, e.WireBytes, payload).Scan(&id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM uploads WHERE id <= ?`, id-int64(keep))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("log upload: %w", err)
	}
	return id, nil
}

const uploadColumns = `id, at, kind, path, lane, outcome, error, records, kinds, first_seq, last_seq, body_bytes, wire_bytes`

func scanUpload(row interface{ Scan(...any) error }, extra ...any) (UploadEntry, error) {
	var (
		e                  UploadEntry
		at, outcome, kinds string
		kind               string
		lane               int
		first, last        int64
	)
	err := row.Scan(append([]any{&e.ID, &at, &kind, &e.Path, &lane, &outcome, &e.Error, &e.Records, &kinds, &first, &last,
		&e.BodyBytes, &e.WireBytes}, extra...)...)
	if err != nil {
		return UploadEntry{}, err
	}
	e.Kind = TransferKind(kind)
	e.Priority, e.Outcome, e.FirstSeq, e.LastSeq = lane != int(outbox.LaneBulk), UploadOutcome(outcome), uint64(first), uint64(last)
	e1 := json.Unmarshal([]byte(kinds), &e.Kinds)
	var e2 error
	e.At, e2 = sqlitedb.ParseTime(at)
	if err := errors.Join(e1, e2); err != nil {
		return UploadEntry{}, fmt.Errorf("upload %d: corrupt entry: %w", e.ID, err)
	}
	return e, nil
}

// Uploads lists up to limit upload attempts, newest first.
func (s *Store) Uploads(ctx context.Context, limit int) ([]UploadEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list uploads: limit %d, want > 0", limit)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+uploadColumns+`, payload IS NOT NULL FROM uploads ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list uploads: %w", err)
	}
	defer rows.Close()
	var es []UploadEntry
	for rows.Next() {
		var has bool
		e, err := scanUpload(rows, &has)
		if err != nil {
			return nil, fmt.Errorf("list uploads: %w", err)
		}
		e.HasPayload = has
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list uploads: %w", err)
	}
	return es, nil
}

// Upload returns one upload attempt with its decoded payload. An unknown
// id gives fleet.ErrNotFound.
func (s *Store) Upload(ctx context.Context, id int64) (UploadDetail, error) {
	var payload []byte
	e, err := scanUpload(s.read.QueryRowContext(ctx, `SELECT `+uploadColumns+`, payload FROM uploads WHERE id = ?`, id), &payload)
	if errors.Is(err, sql.ErrNoRows) {
		return UploadDetail{}, fmt.Errorf("upload %d: %w", id, fleet.ErrNotFound)
	}
	if err != nil {
		return UploadDetail{}, fmt.Errorf("upload %d: %w", id, err)
	}
	d := UploadDetail{UploadEntry: e}
	if payload == nil {
		return d, nil
	}
	d.HasPayload = true
	if d.Payload, d.Batch, err = decodePayload(payload); err != nil {
		return UploadDetail{}, fmt.Errorf("upload %d: %w", id, err)
	}
	return d, nil
}

// decodePayload decompresses a stored payload and decodes its batch.
func decodePayload(b []byte) (json.RawMessage, uplink.Batch, error) {
	zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxPayloadBytes))
	if err != nil {
		return nil, uplink.Batch{}, err
	}
	defer zd.Close()
	raw, err := zd.DecodeAll(b, nil)
	if err != nil {
		return nil, uplink.Batch{}, fmt.Errorf("stored payload is corrupt: %w", err)
	}
	var batch uplink.Batch
	if err := json.Unmarshal(raw, &batch); err != nil {
		return nil, uplink.Batch{}, fmt.Errorf("stored payload is corrupt: %w", err)
	}
	return raw, batch, nil
}

// Bandwidth is the uplink's use of the site's link: TCP payload both ways,
// TLS handshakes included, as estimated per transfer (uploads and the
// mirror's fetches).
type Bandwidth struct {
	Current float64 `json:"current_bps"` // bits per second over the last minute
	Hour    float64 `json:"hour_bps"`    // bits per second over the last hour
	Average float64 `json:"average_bps"` // bits per second over the last 24 hours
}

// Bandwidth returns the uplink bandwidth as of now, from the upload log.
func (s *Store) Bandwidth(ctx context.Context, now time.Time) (Bandwidth, error) {
	ms := now.UnixMilli()
	var minute, hour, day int64
	err := s.read.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN at_ms > ? THEN wire_bytes END), 0),
		COALESCE(SUM(CASE WHEN at_ms > ? THEN wire_bytes END), 0),
		COALESCE(SUM(wire_bytes), 0)
		FROM uploads WHERE at_ms > ? AND at_ms <= ?`,
		ms-time.Minute.Milliseconds(), ms-time.Hour.Milliseconds(), ms-(24*time.Hour).Milliseconds(), ms).Scan(&minute, &hour, &day)
	if err != nil {
		return Bandwidth{}, fmt.Errorf("uplink bandwidth: %w", err)
	}
	return Bandwidth{Current: float64(minute*8) / 60, Hour: float64(hour*8) / 3600, Average: float64(day*8) / 86400}, nil
}
