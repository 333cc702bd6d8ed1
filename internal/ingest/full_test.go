package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

type codedErr int

func (e codedErr) Error() string { return fmt.Sprintf("sqlite code %d", int(e)) }
func (e codedErr) Code() int     { return int(e) }

type stateErr string

func (e stateErr) Error() string    { return "SQLSTATE " + string(e) }
func (e stateErr) SQLState() string { return string(e) }

// A full store (SQLite's SQLITE_FULL, PostgreSQL's disk_full) is logged as
// an error, since retrying helps only once an operator made room; the
// message is left for redelivery, never acknowledged. It is logged once
// until the store takes a write again, whether the writer's batch holds
// one message or several.
func TestStoreFullLoggedAndRedelivered(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantFull bool
	}{
		{"sqlite full", fmt.Errorf("apply: %w", codedErr(13)), true},
		{"sqlite full, extended code", codedErr(13 | 1<<8), true},
		{"sqlite busy", codedErr(5), false},
		{"postgres disk full", fmt.Errorf("apply: %w", stateErr("53100")), true},
		{"postgres other", stateErr("40001"), false},
		{"plain", errors.New("connection refused"), false},
	}
	for _, tt := range tests {
		for _, batch := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d messages", tt.name, batch), func(t *testing.T) {
				var logs bytes.Buffer
				st := &fakeStore{seen: map[uint64]bool{}, err: tt.err}
				w := NewWriter(st, &fakeNotifier{}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				for round := range 3 {
					var msgs [][]byte
					for i := range batch {
						msgs = append(msgs, envelope(uint64(10*round+i+1)))
					}
					errs := w.HandleBatch(t.Context(), msgs)
					if len(errs) != batch || slices.Contains(errs, nil) {
						t.Fatalf("HandleBatch = %v; want every message redelivered", errs)
					}
				}
				n := strings.Count(logs.String(), "level=ERROR msg=\"the store is full")
				if want := map[bool]int{true: 1, false: 0}[tt.wantFull]; n != want {
					t.Errorf("store-full error logged %d times, want %d:\n%s", n, want, logs.String())
				}
				// Room again: said once, and a later full store is logged again.
				st.err = nil
				if errs := w.HandleBatch(t.Context(), [][]byte{envelope(100)}); errs != nil {
					t.Fatalf("with room: %v", errs)
				}
				if got := strings.Contains(logs.String(), "the store has room again"); got != tt.wantFull {
					t.Errorf("room again logged %v, want %v", got, tt.wantFull)
				}
				st.err = tt.err
				w.HandleBatch(t.Context(), [][]byte{envelope(200)})
				if n := strings.Count(logs.String(), "level=ERROR msg=\"the store is full"); tt.wantFull && n != 2 {
					t.Errorf("full again: logged %d times in all, want 2", n)
				}
			})
		}
	}
}
