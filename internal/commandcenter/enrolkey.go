package commandcenter

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// PendingEnrolmentKey returns the gateway key of an enrolment that has not
// finished yet, generating it from rand (nil: a secure source) and saving
// it first when there is none. Saving the key before the cloud sees it lets a Command Center that
// crashed, or lost the cloud's answer, repeat its enrolment with the same
// key: the cloud answers a repeated enrolment with the same token and key
// with the same gateway.
func (s *Store) PendingEnrolmentKey(ctx context.Context, rand io.Reader) (ed25519.PrivateKey, error) {
	_, fresh, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("pending enrolment key: %w", err)
	}
	var stored string
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('enrol_key', ?)
			ON CONFLICT (key) DO NOTHING`, hex.EncodeToString(fresh)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'enrol_key'`).Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("pending enrolment key: %w", err)
	}
	b, err := hex.DecodeString(stored)
	if err != nil || len(b) != ed25519.PrivateKeySize {
		return nil, errors.New("pending enrolment key: stored key is corrupt")
	}
	key := ed25519.PrivateKey(b)
	if !ed25519.NewKeyFromSeed(key.Seed()).Equal(key) {
		return nil, errors.New("pending enrolment key: stored key does not match its public half")
	}
	return key, nil
}

// DropPendingEnrolmentKey forgets the pending enrolment key once the
// credentials are saved. Dropping when there is none is not an error.
func (s *Store) DropPendingEnrolmentKey(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM meta WHERE key = 'enrol_key'`); err != nil {
		return fmt.Errorf("drop pending enrolment key: %w", err)
	}
	return nil
}
