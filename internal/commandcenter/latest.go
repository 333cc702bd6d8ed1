package commandcenter

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// Snapshot is the latest wear a printer reported: its consumables and its
// counters, each nil until first read.
type Snapshot struct {
	Consumables *ConsumablesSample
	Counters    *CountersSample
}

// LatestSnapshot returns the newest consumables and counters snapshots of
// printer printerID (its local ID), for readers that show the present
// only, such as the MTConnect agent.
func (s *Store) LatestSnapshot(ctx context.Context, printerID int64) (Snapshot, error) {
	var snap Snapshot
	cons, err := latestSample(ctx, s, "consumables", `SELECT seen, consumables FROM consumables_history
		WHERE printer = ? ORDER BY seen DESC LIMIT 1`, printerID,
		func(c *ConsumablesSample) any { return &c.Consumables })
	if err != nil {
		return Snapshot{}, err
	}
	if cons != nil {
		cons.Printer = printerID
		snap.Consumables = cons
	}
	ctrs, err := latestSample(ctx, s, "counters", `SELECT seen, counters FROM counters_history
		WHERE printer = ? ORDER BY seen DESC LIMIT 1`, printerID,
		func(c *CountersSample) any { return &c.Counters })
	if err != nil {
		return Snapshot{}, err
	}
	if ctrs != nil {
		ctrs.Printer = printerID
		snap.Counters = ctrs
	}
	return snap, nil
}

// latestSample reads one (seen, JSON) row of query into a new T, whose
// seen time it sets through its Seen field and whose JSON it decodes into
// what body returns; nil when there is no row.
func latestSample[T ConsumablesSample | CountersSample](ctx context.Context, s *Store, what, query string, printerID int64, body func(*T) any) (*T, error) {
	var seen, b string
	err := s.read.QueryRowContext(ctx, query, printerID).Scan(&seen, &b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("latest %s of printer %d: %w", what, printerID, err)
	}
	v := new(T)
	t, err := sqlitedb.ParseTime(seen)
	if err == nil {
		err = json.Unmarshal([]byte(b), body(v))
	}
	if err != nil {
		return nil, fmt.Errorf("latest %s of printer %d: corrupt row: %w", what, printerID, err)
	}
	switch x := any(v).(type) {
	case *ConsumablesSample:
		x.Seen = t
	case *CountersSample:
		x.Seen = t
	}
	return v, nil
}
