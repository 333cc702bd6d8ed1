package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// Air-gapped bundles (R-PEER-7). An export carries every pending record
// (not quarantined) to the cloud by hand and numbers the bundle with the
// next serial; nothing is deleted by exporting. The cloud's signed
// acknowledgement of a bundle lists the records it holds and those it
// refused: ApplyBundleAck deletes the first and quarantines the second,
// as an upload's answer would. Records quarantined meanwhile stay so, and
// records appended after the export are never in the ranges of its
// acknowledgement (sequence numbers only grow).

// Errors of ApplyBundleAck.
var (
	// ErrAckOlder: the acknowledgement is of an older bundle than one
	// whose acknowledgement was applied already.
	ErrAckOlder = errors.New("outbox: acknowledgement of an older bundle than one applied already")
	// ErrAckUnknownBundle: the acknowledgement is of a bundle never
	// exported here, or of records never assigned.
	ErrAckUnknownBundle = errors.New("outbox: acknowledgement of a bundle this outbox never exported")
)

// NextBundleSerial takes the serial of a new bundle: one more than the
// last export's.
func (o *Outbox) NextBundleSerial(ctx context.Context) (uint64, error) {
	var n int64
	err := sqlitedb.Tx(ctx, o.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('bundle_serial', '0') ON CONFLICT (key) DO NOTHING`); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'bundle_serial'
			RETURNING CAST(value AS INTEGER)`).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("next bundle serial: %w", err)
	}
	return uint64(n), nil
}

// PendingAfter returns up to limit pending records with Seq above after,
// oldest first: an export reads the outbox with it page by page.
func (o *Outbox) PendingAfter(ctx context.Context, after uint64, limit int) ([]fleet.Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pending records: limit %d, want > 0", limit)
	}
	return o.queryRecords(ctx, "pending records",
		`SELECT seq, record FROM outbox WHERE quarantine = 0 AND seq > ? ORDER BY seq LIMIT ?`, int64(after), limit)
}

// BundleAck is an acknowledgement of a bundle, as the site verified it.
type BundleAck struct {
	Serial  uint64
	Held    []fleet.SeqRange // ordered, disjoint
	Refused []fleet.RefusedRecord
}

// BundleAckResult is what applying an acknowledgement did.
type BundleAckResult struct {
	Deleted     int64 // records the cloud holds, deleted
	Quarantined int64 // records the cloud refused, set aside
	// Again: this bundle's acknowledgement was applied before.
	Again bool
}

// ApplyBundleAck applies the cloud's acknowledgement of bundle a.Serial in
// one transaction: ErrAckOlder or ErrAckUnknownBundle, and nothing
// changes, when it is older than one applied or of a bundle never
// exported. Applying the same one again changes nothing more.
func (o *Outbox) ApplyBundleAck(ctx context.Context, a BundleAck, at time.Time) (BundleAckResult, error) {
	var res BundleAckResult
	err := sqlitedb.Tx(ctx, o.db, func(tx *sql.Tx) error {
		exported, err := metaInt(ctx, tx, "bundle_serial")
		if err != nil {
			return err
		}
		applied, err := metaInt(ctx, tx, "bundle_ack_serial")
		if err != nil {
			return err
		}
		switch {
		case a.Serial > exported:
			return fmt.Errorf("%w: it acknowledges bundle %d, the last exported is %d", ErrAckUnknownBundle, a.Serial, exported)
		case a.Serial < applied:
			return fmt.Errorf("%w: it acknowledges bundle %d, bundle %d's was applied", ErrAckOlder, a.Serial, applied)
		}
		res.Again = a.Serial == applied
		if n := len(a.Held); n > 0 {
			if err := checkAssigned(ctx, tx, a.Held[n-1].Last); err != nil {
				return fmt.Errorf("%w: %v", ErrAckUnknownBundle, err)
			}
		}
		if len(a.Refused) > 0 {
			n, err := quarantineRefused(ctx, tx, a, at)
			if err != nil {
				return err
			}
			res.Quarantined = n
		}
		for _, r := range a.Held {
			x, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq BETWEEN ? AND ? AND quarantine = 0`, int64(r.First), int64(r.Last))
			if err != nil {
				return err
			}
			n, err := x.RowsAffected()
			if err != nil {
				return err
			}
			res.Deleted += n
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('bundle_ack_serial', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.FormatUint(a.Serial, 10))
		return err
	})
	if err != nil {
		return BundleAckResult{}, fmt.Errorf("apply the acknowledgement of bundle %d: %w", a.Serial, err)
	}
	return res, nil
}

// quarantineRefused sets aside the refused records still pending, as one
// quarantined batch that names the first reason.
func quarantineRefused(ctx context.Context, tx *sql.Tx, a BundleAck, at time.Time) (int64, error) {
	var pending []uint64
	for _, r := range a.Refused {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE seq = ? AND quarantine = 0`, int64(r.Seq)).Scan(&n); err != nil {
			return 0, err
		}
		if n > 0 {
			pending = append(pending, r.Seq)
		}
	}
	if len(pending) == 0 {
		return 0, nil
	}
	reason := fmt.Sprintf("refused by the cloud on import of bundle %d: %s", a.Serial, a.Refused[0].Reason)
	if len(a.Refused) > 1 {
		reason += fmt.Sprintf(" (%d records refused in all)", len(a.Refused))
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO outbox_quarantine (at, reason, first_seq, last_seq, records)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, sqlitedb.FormatTime(at), reason, int64(pending[0]), int64(pending[len(pending)-1]), len(pending)).Scan(&id); err != nil {
		return 0, err
	}
	if err := execEach(ctx, tx, `UPDATE outbox SET quarantine = ? WHERE seq = ?`, pending, id); err != nil {
		return 0, err
	}
	return int64(len(pending)), nil
}

// metaInt reads an integer of the meta table, 0 when unset.
func metaInt(ctx context.Context, tx *sql.Tx, key string) (uint64, error) {
	var v sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?`, key).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	return uint64(v.Int64), nil
}
