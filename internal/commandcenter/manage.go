package commandcenter

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// Managing the site's printers while the Command Center runs: rename,
// move, retire and re-activate a printer, and the printers discovery
// found that wait for an operator to pair them. Every change of a
// printer's row counts in printersVersion, so the poller sees it at its
// next tick: a printer added is polled, a retired one is not, a moved one
// is polled at its new address.

// MaxDisplayName is the longest display name, in characters.
const MaxDisplayName = 64

// ErrRetired is the error of changing a retired printer in a way only an
// active printer allows.
var ErrRetired = errors.New("printer is retired")

// CheckDisplayName reports whether name may be a printer's display name:
// at most MaxDisplayName characters of UTF-8 without control characters.
// The empty name is allowed: it gives the printer its own name back.
func CheckDisplayName(name string) error {
	if !utf8.ValidString(name) {
		return errors.New("display name: not UTF-8")
	}
	if n := utf8.RuneCountInString(name); n > MaxDisplayName {
		return fmt.Errorf("display name: %d characters, at most %d", n, MaxDisplayName)
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return errors.New("display name: control characters")
	}
	return nil
}

// RenamePrinter sets the display name of printer id (see
// Printer.DisplayName), trimmed of spaces; "" clears it.
func (s *Store) RenamePrinter(ctx context.Context, id int64, name string) error {
	name = strings.TrimSpace(name)
	if err := CheckDisplayName(name); err != nil {
		return fmt.Errorf("rename printer %d: %w", id, err)
	}
	return s.updatePrinter(ctx, "rename", id, `UPDATE printers SET display_name = ? WHERE id = ?`, name, id)
}

// RetirePrinter retires printer id: the poller stops polling it within an
// interval, and nothing of it is deleted: its jobs, events and history
// stay, shown as a retired printer's. Retiring a retired printer keeps its
// first retirement.
func (s *Store) RetirePrinter(ctx context.Context, id int64, now time.Time) error {
	return s.updatePrinter(ctx, "retire", id, `UPDATE printers SET retired_at = CASE WHEN retired_at = '' THEN ? ELSE retired_at END
		WHERE id = ?`, sqlitedb.FormatTime(now), id)
}

// ReactivatePrinter makes retired printer id active again: it is polled
// from where its collection stopped, with the pin it had.
func (s *Store) ReactivatePrinter(ctx context.Context, id int64, now time.Time) error {
	ts := sqlitedb.FormatTime(now)
	return s.updatePrinter(ctx, "reactivate", id, `UPDATE printers SET retired_at = '',
		state_since = CASE WHEN retired_at = '' THEN state_since ELSE ? END,
		state = CASE WHEN retired_at = '' THEN state ELSE ? END WHERE id = ?`, ts, string(CollectionNew), id)
}

// MovePrinter gives printer id the new address, keeping its row, and so
// its history and feed cursors. presented is the fingerprint the printer
// presents at the new address: when it differs from the pinned one the
// move is refused with a *deviceapi.PinError unless repin says that the
// operator confirmed the new certificate, which is then pinned. Another
// printer at the address gives fleet.ErrConflict.
func (s *Store) MovePrinter(ctx context.Context, id int64, address string, presented deviceapi.Fingerprint, repin bool, now time.Time) error {
	if address == "" || presented == "" {
		return fmt.Errorf("move printer %d: empty address or fingerprint", id)
	}
	defer s.version.Add(1)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var pinned, old string
		err := tx.QueryRowContext(ctx, `SELECT fingerprint, address FROM printers WHERE id = ?`, id).Scan(&pinned, &old)
		if errors.Is(err, sql.ErrNoRows) {
			return fleet.ErrNotFound
		}
		if err != nil {
			return err
		}
		if deviceapi.Fingerprint(pinned) != presented && !repin {
			return &deviceapi.PinError{Addr: address, Want: deviceapi.Fingerprint(pinned), Got: presented}
		}
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM printers WHERE address = ? AND id != ?`, address, id).Scan(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return fmt.Errorf("address %s: %w", address, fleet.ErrConflict)
		}
		ts := sqlitedb.FormatTime(now)
		if deviceapi.Fingerprint(pinned) == presented {
			_, err = tx.ExecContext(ctx, `UPDATE printers SET address = ?, resolved_address = '' WHERE id = ?`, address, id)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE printers SET address = ?, resolved_address = '', fingerprint = ?, pinned_at = ?,
			state = ?, state_since = ?, last_error = '', error_kind = '', last_error_at = '' WHERE id = ?`,
			address, string(presented), ts, string(CollectionNew), ts, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("move printer %d to %s: %w", id, address, err)
	}
	return nil
}

// updatePrinter runs the update query of printer id for action, and counts
// the change; a missing printer gives fleet.ErrNotFound.
func (s *Store) updatePrinter(ctx context.Context, action string, id int64, query string, args ...any) error {
	defer s.version.Add(1)
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s printer %d: %w", action, id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s printer %d: %w", action, id, err)
	} else if n == 0 {
		return fmt.Errorf("%s printer %d: %w", action, id, fleet.ErrNotFound)
	}
	return nil
}

// Printer returns printer id; an unknown id gives fleet.ErrNotFound.
func (s *Store) Printer(ctx context.Context, id int64) (Printer, error) {
	return s.printer(ctx, id)
}

// PendingPrinter is a printer discovery found (Discover) and kept for an
// operator to pair: its certificate's fingerprint, to compare with the
// printer's panel, and what its public identity said.
type PendingPrinter struct {
	Address     string                `json:"address"`
	Fingerprint deviceapi.Fingerprint `json:"fingerprint"`
	Identity    *fleet.Identity       `json:"identity,omitempty"` // nil: not read
	FoundAt     time.Time             `json:"found_at"`
}

// SavePending keeps p for an operator to pair, replacing what an earlier
// discovery found at its address. A printer already paired at the address
// gives fleet.ErrConflict.
func (s *Store) SavePending(ctx context.Context, p PendingPrinter) error {
	if p.Address == "" || p.Fingerprint == "" {
		return errors.New("save pending printer: empty address or fingerprint")
	}
	ident := ""
	if p.Identity != nil {
		b, err := json.Marshal(p.Identity)
		if err != nil {
			return fmt.Errorf("save pending printer %s: %w", p.Address, err)
		}
		ident = string(b)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var paired int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM printers WHERE address = ?`, p.Address).Scan(&paired); err != nil {
			return err
		}
		if paired > 0 {
			return fleet.ErrConflict
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO pending_printers (address, fingerprint, identity, found_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (address) DO UPDATE SET fingerprint = excluded.fingerprint, identity = excluded.identity,
			found_at = excluded.found_at`, p.Address, string(p.Fingerprint), ident, sqlitedb.FormatTime(p.FoundAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("save pending printer %s: %w", p.Address, err)
	}
	return nil
}

// PendingPrinters returns the printers waiting to be paired, by address.
func (s *Store) PendingPrinters(ctx context.Context) ([]PendingPrinter, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT address, fingerprint, identity, found_at FROM pending_printers ORDER BY address`)
	if err != nil {
		return nil, fmt.Errorf("list pending printers: %w", err)
	}
	defer rows.Close()
	var ps []PendingPrinter
	for rows.Next() {
		var p PendingPrinter
		var fp, ident, found string
		if err := rows.Scan(&p.Address, &fp, &ident, &found); err != nil {
			return nil, fmt.Errorf("list pending printers: %w", err)
		}
		p.Fingerprint = deviceapi.Fingerprint(fp)
		var errs []error
		p.FoundAt, err = sqlitedb.ParseTime(found)
		errs = append(errs, err)
		if ident != "" {
			p.Identity = new(fleet.Identity)
			errs = append(errs, json.Unmarshal([]byte(ident), p.Identity))
		}
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("list pending printers: %s: corrupt row: %w", p.Address, err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pending printers: %w", err)
	}
	return ps, nil
}

// DropPending forgets the pending printer at address; an unknown address
// gives fleet.ErrNotFound.
func (s *Store) DropPending(ctx context.Context, address string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM pending_printers WHERE address = ?`, address)
	if err != nil {
		return fmt.Errorf("drop pending printer %s: %w", address, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("drop pending printer %s: %w", address, err)
	} else if n == 0 {
		return fmt.Errorf("drop pending printer %s: %w", address, fleet.ErrNotFound)
	}
	return nil
}
