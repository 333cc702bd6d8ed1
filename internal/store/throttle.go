package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The login throttle. Failed logins are counted twice: per user name and
// client address, and per user name over all addresses. Both counts live
// in login_failures, so every cloud node sharing the database applies the
// same locks, and a node that restarts forgets nothing.
//
// Per name and address, the first addressFree failures are free; each
// further one locks the pair for addressBase, doubling up to addressMax.
// An attacker at one address thus gets a dozen guesses an hour, and the
// lock is his alone: the user, logging in from another address, is not
// locked out by it.
//
// Per name, the threshold is far higher (nameFree), so that only many
// addresses together reach it; past it each failure locks the name for
// nameBase, doubling up to nameMax, whatever the address. This slows a
// distributed guess to a few tries an hour; it does lock the real user
// out too while the attack goes on, which is why its cap is short.
//
// A count with no failure for forgetFailures starts afresh. A successful
// login clears the count of its name and address, never the one of the
// name: otherwise each of the user's logins would reset a distributed
// attack's progress.
const (
	addressFree    = 5
	addressBase    = 30 * time.Second
	addressMax     = 15 * time.Minute
	nameFree       = 100
	nameBase       = time.Minute
	nameMax        = 5 * time.Minute
	forgetFailures = time.Hour
	// keepFailures is how long Prune keeps a count after its last failure:
	// beyond forgetFailures and every lock, so pruning never lifts one.
	keepFailures = 24 * time.Hour
	// allAddresses is the address of the per-name count.
	allAddresses = "*"
	maxKeyLen    = 128
)

// backoff is the lock after failures: none for the first free ones, then
// base, doubling up to max.
func backoff(failures, free int, base, max time.Duration) time.Duration {
	over := failures - free
	if over <= 0 {
		return 0
	}
	if over > 16 {
		return max
	}
	return min(base<<(over-1), max)
}

// loginKeys are the rows of name and address: the pair's and the name's.
// A name is matched without regard to case or surrounding space (user
// names are unique that way too in practice), so that "Ada " and "ada"
// share a count; names and addresses are cut to a bound.
func loginKeys(name, address string) (key, addr string) {
	key = strings.ToLower(strings.TrimSpace(name))
	if len(key) > maxKeyLen {
		key = key[:maxKeyLen]
	}
	if address == allAddresses {
		address = "" // a client cannot pose as all addresses
	}
	if len(address) > maxKeyLen {
		address = address[:maxKeyLen]
	}
	return key, address
}

// LoginLockedUntil returns until when logins of name from address are
// locked, by the count of the pair or of the name; a time not after now
// means not locked.
func (d *DB) LoginLockedUntil(ctx context.Context, name, address string, now time.Time) (time.Time, error) {
	key, addr := loginKeys(name, address)
	var until int64
	err := d.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(locked_until), 0) FROM login_failures
		WHERE name_key = ? AND address IN (?, ?) AND last_at >= ?`,
		key, addr, allAddresses, nanos(now.Add(-forgetFailures))).Scan(&until)
	if err != nil {
		return time.Time{}, fmt.Errorf("login lock: %w", err)
	}
	if until == 0 {
		return time.Time{}, nil
	}
	return time.Unix(0, until).UTC(), nil
}

// LoginFailed counts a failed login of name from address at now, and locks
// the pair or the name as the throttle decides. Of two nodes counting at
// once, each sees the other's failure: the count is one upsert.
func (d *DB) LoginFailed(ctx context.Context, name, address string, now time.Time) error {
	key, addr := loginKeys(name, address)
	err := d.tx(ctx, func(tx *txn) error {
		for _, c := range []struct {
			addr      string
			free      int
			base, max time.Duration
		}{
			{addr, addressFree, addressBase, addressMax},
			{allAddresses, nameFree, nameBase, nameMax},
		} {
			stale := nanos(now.Add(-forgetFailures))
			var n int
			err := tx.QueryRowContext(ctx, `INSERT INTO login_failures (name_key, address, failures, last_at, locked_until)
				VALUES (?, ?, 1, ?, 0)
				ON CONFLICT (name_key, address) DO UPDATE SET
					failures = CASE WHEN login_failures.last_at < ? THEN 1 ELSE login_failures.failures + 1 END,
					locked_until = CASE WHEN login_failures.last_at < ? THEN 0 ELSE login_failures.locked_until END,
					last_at = ?
				RETURNING failures`, key, c.addr, nanos(now), stale, stale, nanos(now)).Scan(&n)
			if err != nil {
				return err
			}
			if lock := backoff(n, c.free, c.base, c.max); lock > 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE login_failures SET locked_until = `+tx.dialect.greatest+`(locked_until, ?)
					WHERE name_key = ? AND address = ?`, nanos(now.Add(lock)), key, c.addr); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("count failed login: %w", err)
	}
	return nil
}

// LoginSucceeded clears the count of name and address after a successful
// login. The count of the name stays (see the throttle above).
func (d *DB) LoginSucceeded(ctx context.Context, name, address string) error {
	key, addr := loginKeys(name, address)
	if _, err := d.db.ExecContext(ctx, `DELETE FROM login_failures WHERE name_key = ? AND address = ?`, key, addr); err != nil {
		return fmt.Errorf("clear failed logins: %w", err)
	}
	return nil
}
