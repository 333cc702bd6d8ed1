package outbox

import (
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox/outboxtest"
	"github.com/fusionfleet/fusionfleet/internal/sqlitedb"
)

// AppendTx appends within the caller's transaction: the records commit or
// roll back with it, and a rolled-back append uses no sequence numbers.
func TestAppendTxFollowsTheCallersTransaction(t *testing.T) {
	ob, _ := openOutbox(t)
	ctx := t.Context()
	refused := errors.New("the caller's other write failed")
	err := sqlitedb.Tx(ctx, ob.db, func(tx *sql.Tx) error {
		if err := AppendTx(ctx, tx, []fleet.Record{gapRec(1), gapRec(2)}); err != nil {
			return err
		}
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("transaction = %v, want the caller's error", err)
	}
	if n, err := ob.PendingCount(ctx); err != nil || n != 0 {
		t.Fatalf("PendingCount() after a rollback = %d, %v; want 0", n, err)
	}
	if err := sqlitedb.Tx(ctx, ob.db, func(tx *sql.Tx) error { return AppendTx(ctx, tx, []fleet.Record{gapRec(3)}) }); err != nil {
		t.Fatal(err)
	}
	if err := sqlitedb.Tx(ctx, ob.db, func(tx *sql.Tx) error { return AppendTx(ctx, tx, nil) }); err != nil {
		t.Fatalf("AppendTx of nothing: %v", err)
	}
	if diff := cmp.Diff([]uint64{1}, outboxtest.Seqs(pending(t, ob))); diff != "" {
		t.Errorf("seqs after a rollback and a commit (-want +got):\n%s", diff)
	}
}

// sqliteFull is an error as the SQLite driver reports a full disk.
type sqliteFull struct{}

func (sqliteFull) Error() string { return "database or disk is full (13)" }
func (sqliteFull) Code() int     { return 13 }

// Stored keeps the health of writes made with AppendTx: a full disk fails
// it, a success clears it, other failures leave it.
func TestStoredKeepsTheHealth(t *testing.T) {
	ob, _ := openOutbox(t)
	ctx := t.Context()
	at := t0.Add(time.Minute)
	health := func() Health {
		t.Helper()
		st, err := ob.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Health
	}
	if err := ob.Stored(sqliteFull{}, at); !errors.Is(err, ErrDiskFull) {
		t.Errorf("Stored(a full disk) = %v, want ErrDiskFull", err)
	}
	want := Health{Failing: true, DiskFull: true, LastError: ErrDiskFull.Error() + ": " + sqliteFull{}.Error(), LastErrorAt: at}
	if diff := cmp.Diff(want, health()); diff != "" {
		t.Errorf("health after a full disk (-want +got):\n%s", diff)
	}
	other := errors.New("printer row gone")
	if err := ob.Stored(other, at.Add(time.Minute)); err != other {
		t.Errorf("Stored(other) = %v, want it unchanged", err)
	}
	if diff := cmp.Diff(want, health()); diff != "" {
		t.Errorf("health after another failure (-want +got):\n%s", diff)
	}
	if err := ob.Stored(nil, at); err != nil {
		t.Errorf("Stored(nil) = %v", err)
	}
	if got := health(); got != (Health{}) {
		t.Errorf("health after a success = %+v, want zero", got)
	}
}
