package sqlite

import "context"

// Ping reports whether the database answers, for readiness checks.
func (d *DB) Ping(ctx context.Context) error { return d.db.PingContext(ctx) }
