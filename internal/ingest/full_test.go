package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
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
// message is left for redelivery, never acknowledged.
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
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			st := &fakeStore{seen: map[uint64]bool{}, err: tt.err}
			w := NewWriter(st, &fakeNotifier{}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			errs := w.HandleBatch(t.Context(), [][]byte{envelope(1), envelope(2)})
			if len(errs) != 2 || errs[0] == nil || errs[1] == nil {
				t.Fatalf("HandleBatch = %v; want both messages redelivered", errs)
			}
			logged := strings.Contains(logs.String(), "level=ERROR msg=\"the store is full")
			if logged != tt.wantFull {
				t.Errorf("store-full error logged %v, want %v:\n%s", logged, tt.wantFull, logs.String())
			}
		})
	}
}
