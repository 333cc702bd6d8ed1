package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// PrinterPlaces returns where org's records of each of devices (printer
// IDs as org's gateways report them) go: the printer's key and site. A
// device new to org comes back with its own ID as key and no site when no
// printer uses that key; one whose ID another organisation's printer
// already uses is left out, since its key is chosen only when its first
// record is stored.
func (d *DB) PrinterPlaces(ctx context.Context, org fleet.OrgID, devices []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, error) {
	places, _, err := placePrinters(ctx, d.db, org, devices)
	if err != nil {
		return nil, fmt.Errorf("printers of %s: %w", org, err)
	}
	return places, nil
}

// placePrinters looks devices up in org, in one query per printerChunk of
// them, and returns the places of those known to org and of those whose
// ID is free to be their key, and the rest, whose ID another
// organisation's printer has as its key.
func placePrinters(ctx context.Context, q querier, org fleet.OrgID, devices []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, []fleet.PrinterID, error) {
	devices = slices.Compact(slices.Sorted(slices.Values(devices)))
	places := make(map[fleet.PrinterID]fleet.PrinterPlace, len(devices))
	var unknown []fleet.PrinterID
	for chunk := range slices.Chunk(devices, printerChunk) {
		err := scanRows(ctx, q, placesSQL(len(chunk)), append([]any{org}, anys(chunk)...), func(rows *sql.Rows) error {
			var dev fleet.PrinterID
			var pl fleet.PrinterPlace
			if err := rows.Scan(&dev, &pl.Key, &pl.SiteID); err != nil {
				return err
			}
			places[dev] = pl
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		for _, dev := range chunk {
			if _, ok := places[dev]; !ok {
				unknown = append(unknown, dev)
			}
		}
	}
	taken := map[fleet.PrinterID]bool{}
	for chunk := range slices.Chunk(unknown, printerChunk) {
		err := scanRows(ctx, q, takenSQL(len(chunk)), anys(chunk),
			func(rows *sql.Rows) error {
				var key fleet.PrinterID
				err := rows.Scan(&key)
				taken[key] = true
				return err
			})
		if err != nil {
			return nil, nil, err
		}
	}
	var collided []fleet.PrinterID
	for _, dev := range unknown {
		if taken[dev] {
			collided = append(collided, dev)
		} else {
			places[dev] = fleet.PrinterPlace{Key: dev}
		}
	}
	return places, collided, nil
}

// placesSQL looks up n devices of an organisation (the organisation's
// unique index on device IDs), takenSQL n keys (the primary key).
func placesSQL(n int) string {
	return `SELECT device_id, id, site_id FROM printers WHERE org_id = ? AND device_id IN (` + placeholders(n) + `)`
}

func takenSQL(n int) string { return `SELECT id FROM printers WHERE id IN (` + placeholders(n) + `)` }

// scanRows runs a query and calls scan for each row.
func scanRows(ctx context.Context, q querier, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := scan(rows); err != nil {
			rows.Close()
			return err
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// newPrinterKey returns a random version 4 UUID: the key of a printer whose
// own ID another organisation's printer has as its key. A UUID, so that
// the key is a valid printer ID wherever one is shown or typed.
func newPrinterKey() fleet.PrinterID {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fleet.PrinterID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// MovePrinter moves printer p of org from site from to site to, with the
// history it has. A printer belongs to one site: the first whose gateway
// sent its records; records of it from another site's gateway are refused
// until an administrator moves it. Its alerts follow it; the KPIs of past
// days stay with the site that produced them. An unknown printer or site
// is fleet.ErrNotFound; a printer no longer at from is fleet.ErrConflict.
func (d *DB) MovePrinter(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to fleet.SiteID) error {
	err := d.tx(ctx, func(tx *txn) error {
		var siteOrg fleet.OrgID
		err := tx.QueryRowContext(ctx, `SELECT org_id FROM sites WHERE id = ?`, to).Scan(&siteOrg)
		if errors.Is(err, sql.ErrNoRows) || err == nil && siteOrg != org {
			return fmt.Errorf("site %s: %w", to, fleet.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var at fleet.SiteID
		err = tx.QueryRowContext(ctx, `SELECT site_id FROM printers WHERE id = ? AND org_id = ?`, p, org).Scan(&at)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fleet.ErrNotFound
		case err != nil:
			return err
		case at != from:
			return fmt.Errorf("it is at site %s now, not %s: %w", at, from, fleet.ErrConflict)
		case at == to:
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE printers SET site_id = ? WHERE id = ? AND org_id = ?`, to, p, org); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE alerts SET site_id = ? WHERE org_id = ? AND printer_id = ?`, to, org, p)
		return err
	})
	// This node's writer must not keep the printer at its old site.
	// Another node's cache may, until its writer's check fails: see
	// placeCache.
	d.places.forget(org)
	if err != nil {
		return fmt.Errorf("move printer %s to site %s: %w", p, to, err)
	}
	return nil
}

// placeCache remembers where the ingest path found or made printers: by
// organisation and device ID, the key and site. A hit saves the lookup
// for envelopes of the printer's own site only; any other envelope
// looks in the database, which alone refuses records for another site.
// A printer moved by another node's MovePrinter stays in this cache at
// its old site until this node's writer next stores a record of it:
// ensurePrinters refuses to touch a printer that is not at the
// envelope's site, the envelope fails, the organisation's entries are
// forgotten and the retry finds the printer's place in the database.
type placeCache struct {
	mu sync.Mutex
	m  map[fleet.OrgID]map[fleet.PrinterID]fleet.PrinterPlace
	n  int
}

// maxCachedPlaces bounds the cache (about 100 bytes an entry); full,
// it starts again empty.
const maxCachedPlaces = 500_000

func (c *placeCache) get(org fleet.OrgID, dev fleet.PrinterID) (fleet.PrinterPlace, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pl, ok := c.m[org][dev]
	return pl, ok
}

// add caches places of org's devices; call it only with what a committed
// transaction read or wrote.
func (c *placeCache) add(org fleet.OrgID, places map[fleet.PrinterID]fleet.PrinterPlace) {
	if len(places) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n+len(places) > maxCachedPlaces || c.m == nil {
		c.m, c.n = map[fleet.OrgID]map[fleet.PrinterID]fleet.PrinterPlace{}, 0
	}
	m := c.m[org]
	if m == nil {
		m = map[fleet.PrinterID]fleet.PrinterPlace{}
		c.m[org] = m
	}
	for dev, pl := range places {
		if _, ok := m[dev]; !ok {
			c.n++
		}
		m[dev] = pl
	}
}

// forget drops what the cache knows of org's printers.
func (c *placeCache) forget(org fleet.OrgID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n -= len(c.m[org])
	delete(c.m, org)
}
