package cloud

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/fusionfleet/fusionfleet/internal/store"
)

// openStore opens the store named by db: a PostgreSQL URL, or a SQLite
// file (default: cloud.db in the data directory). The node hands this one
// store to each part as the capabilities that part declares.
func openStore(ctx context.Context, dataDir, db string, maxSize int64) (*store.DB, error) {
	return store.Open(ctx, storeDSN(dataDir, db), store.Options{MaxSQLiteBytes: maxSize})
}

// OpenStore opens the store a node with Options DataDir and DB uses, for
// the operator's commands that work on it (audit verify, features).
func OpenStore(ctx context.Context, dataDir, db string) (*store.DB, error) {
	return store.Open(ctx, storeDSN(dataDir, db), store.Options{})
}

func storeDSN(dataDir, db string) string {
	if db == "" {
		db = filepath.Join(dataDir, "cloud.db")
	}
	return strings.TrimPrefix(db, "sqlite:")
}
