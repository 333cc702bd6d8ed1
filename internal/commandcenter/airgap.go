package commandcenter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/outbox"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// The air-gapped site (R-PEER-7): the outbox leaves as a signed bundle
// encrypted to the cloud (ExportBundle), and the cloud's signed
// acknowledgement comes back (ImportAck) to trim it. The cloud's public
// air-gap key is imported once (SaveCloudKey) or given to each command.

// bundleBatch is how many records each batch of a bundle holds: the
// uploader's batch size, well within what the cloud takes in one.
const bundleBatch = 500

// ErrNoCloudKey: no cloud air-gap key was imported nor given.
var ErrNoCloudKey = errors.New("no cloud air-gap key: import the public key file the cloud's administrator hands out")

// SaveCloudKey keeps the cloud's public air-gap key for exports and
// acknowledgements.
func (s *Store) SaveCloudKey(ctx context.Context, k uplink.CloudPublicKey) error {
	b, err := k.MarshalText()
	if err != nil {
		return fmt.Errorf("save cloud key: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('airgap_cloud_key', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, string(b)); err != nil {
		return fmt.Errorf("save cloud key: %w", err)
	}
	return nil
}

// CloudKey returns the cloud's public air-gap key; ErrNoCloudKey when none
// was saved.
func (s *Store) CloudKey(ctx context.Context) (uplink.CloudPublicKey, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'airgap_cloud_key'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return uplink.CloudPublicKey{}, ErrNoCloudKey
	case err != nil:
		return uplink.CloudPublicKey{}, fmt.Errorf("read cloud key: %w", err)
	}
	return uplink.ParseCloudPublicKey([]byte(v))
}

// ExportBundle writes every pending record of the outbox to w as a bundle
// for the cloud, signed with the gateway's key and encrypted to cloud;
// progress, when set, is told after each batch how many of about total
// records are written. Nothing leaves the outbox until the cloud's
// acknowledgement is imported.
func (s *Store) ExportBundle(ctx context.Context, w io.Writer, cloud uplink.CloudPublicKey, now time.Time, progress func(done, total int)) (uplink.BundleManifest, error) {
	id, key, ok, err := s.Credentials(ctx)
	switch {
	case err != nil:
		return uplink.BundleManifest{}, fmt.Errorf("export: %w", err)
	case !ok:
		return uplink.BundleManifest{}, errors.New("export: this Command Center is not enrolled with a cloud yet")
	}
	total, err := s.ob.PendingCount(ctx)
	if err != nil {
		return uplink.BundleManifest{}, fmt.Errorf("export: %w", err)
	}
	serial, err := s.ob.NextBundleSerial(ctx)
	if err != nil {
		return uplink.BundleManifest{}, fmt.Errorf("export: %w", err)
	}
	bw, err := uplink.NewBundleWriter(w, cloud, uplink.Credentials{GatewayID: id, Key: key}, serial, now)
	if err != nil {
		return uplink.BundleManifest{}, fmt.Errorf("export: %w", err)
	}
	var after uint64
	done := 0
	for {
		recs, err := s.ob.PendingAfter(ctx, after, bundleBatch)
		if err != nil {
			return uplink.BundleManifest{}, fmt.Errorf("export: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		if err := bw.Add(uplink.Batch{Records: recs}); err != nil {
			return uplink.BundleManifest{}, fmt.Errorf("export: %w", err)
		}
		after = recs[len(recs)-1].Seq
		done += len(recs)
		if progress != nil {
			progress(done, max(total, done))
		}
	}
	if err := bw.Close(); err != nil {
		return uplink.BundleManifest{}, fmt.Errorf("export: %w", err)
	}
	return bw.Manifest(), nil
}

// ImportAck verifies the cloud's acknowledgement file b with cloud's key
// and trims the outbox by it. A file that is not the cloud's, is for
// another gateway, is truncated, or acknowledges an older bundle than one
// imported already or one never exported, is refused with an
// *uplink.RefusedError and changes nothing.
func (s *Store) ImportAck(ctx context.Context, b []byte, cloud uplink.CloudPublicKey, now time.Time) (outbox.BundleAckResult, error) {
	id, _, ok, err := s.Credentials(ctx)
	switch {
	case err != nil:
		return outbox.BundleAckResult{}, fmt.Errorf("import acknowledgement: %w", err)
	case !ok:
		return outbox.BundleAckResult{}, errors.New("import acknowledgement: this Command Center is not enrolled with a cloud yet")
	}
	m, err := uplink.VerifyAck(cloud, id, b)
	if err != nil {
		return outbox.BundleAckResult{}, fmt.Errorf("import acknowledgement: %w", err)
	}
	res, err := s.ob.ApplyBundleAck(ctx, outbox.BundleAck{Serial: m.Serial, Held: m.Held, Refused: m.Refused}, now)
	switch {
	case errors.Is(err, outbox.ErrAckOlder), errors.Is(err, outbox.ErrAckUnknownBundle):
		return outbox.BundleAckResult{}, fmt.Errorf("import acknowledgement: %w", &uplink.RefusedError{Reason: err.Error()})
	case err != nil:
		return outbox.BundleAckResult{}, fmt.Errorf("import acknowledgement: %w", err)
	}
	return res, nil
}
