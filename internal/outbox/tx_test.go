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
		if err := ob.AppendTx(ctx, tx, []fleet.Record{gapRec(1), gapRec(2)}, false); err != nil {
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
	if err := sqlitedb.Tx(ctx, ob.db, func(tx *sql.Tx) error { return ob.AppendTx(ctx, tx, []fleet.Record{gapRec(3)}, false) }); err != nil {
		t.Fatal(err)
	}
	if err := sqlitedb.Tx(ctx, ob.db, func(tx *sql.Tx) error { return ob.AppendTx(ctx, tx, nil, false) }); err != nil {
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

// Priority reports what waits in the priority lanes, and the oldest status
// record appended as a state change: only status records carry the mark,
// and records older than fresh are the bulk drain's.
func TestPriorityReportsStateChanges(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type appendTx struct {
		recs   []fleet.Record
		change bool
	}
	tests := []struct {
		name    string
		appends []appendTx
		fresh   time.Time
		want    Waiting
	}{
		{"nothing waits", nil, t0, Waiting{}},
		{"routine status", []appendTx{{[]fleet.Record{outboxtest.Status("printer-0001", at(1))}, false}},
			t0, Waiting{N: 1, Oldest: at(1)}},
		{"a state change after a routine status", []appendTx{
			{[]fleet.Record{outboxtest.Status("printer-0001", at(1))}, false},
			{[]fleet.Record{outboxtest.Status("printer-0002", at(3))}, true},
			{[]fleet.Record{outboxtest.Status("printer-0003", at(4))}, true},
		}, t0, Waiting{N: 3, Oldest: at(1), OldestChange: at(3)}},
		{"the mark is on status records only", []appendTx{
			{[]fleet.Record{gapRec(1), outboxtest.Layer("printer-0001", 1, at(2)), outboxtest.Status("printer-0001", at(5))}, true},
		}, t0, Waiting{N: 2, Oldest: t0, OldestChange: at(5)}},
		{"an alert", []appendTx{
			{[]fleet.Record{outboxtest.Event("printer-0001", fleet.SeverityCritical, at(2))}, false},
		}, t0, Waiting{N: 1, Oldest: at(2), Alert: true}},
		{"a change older than fresh rides the drain", []appendTx{
			{[]fleet.Record{outboxtest.Status("printer-0001", at(1))}, true},
			{[]fleet.Record{outboxtest.Status("printer-0001", at(9))}, false},
		}, at(5), Waiting{N: 1, Oldest: at(9)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ob, _ := openOutbox(t)
			ctx := t.Context()
			for _, a := range tt.appends {
				if err := sqlitedb.Tx(ctx, ob.db, func(tx *sql.Tx) error { return ob.AppendTx(ctx, tx, a.recs, a.change) }); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ob.Priority(ctx, tt.fresh)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Priority() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
