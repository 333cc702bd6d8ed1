package commandcenter

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestPendingEnrolmentKey(t *testing.T) {
	st, path := openStore(t)
	ctx := t.Context()
	first, err := st.PendingEnrolmentKey(ctx, bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if want := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)); !first.Equal(want) {
		t.Error("first key is not the one made from rand")
	}
	st.Close()

	// A restart before the enrolment finished finds the same key.
	st2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	again, err := st2.PendingEnrolmentKey(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Equal(first) {
		t.Error("key after reopen differs from the pending one")
	}

	// Once dropped, the next enrolment gets a new key.
	for range 2 {
		if err := st2.DropPendingEnrolmentKey(ctx); err != nil {
			t.Fatal(err)
		}
	}
	next, err := st2.PendingEnrolmentKey(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if next.Equal(first) {
		t.Error("key after drop is the dropped one")
	}

	t.Run("rand fails", func(t *testing.T) {
		st, _ := openStore(t)
		want := errors.New("no entropy")
		if _, err := st.PendingEnrolmentKey(ctx, iotest.ErrReader(want)); !errors.Is(err, want) {
			t.Errorf("err = %v, want %v", err, want)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		for _, v := range []string{"zz", "00", strings.Repeat("00", 64)} {
			if _, err := st2.db.Exec(`UPDATE meta SET value = ? WHERE key = 'enrol_key'`, v); err != nil {
				t.Fatal(err)
			}
			if _, err := st2.PendingEnrolmentKey(ctx, nil); err == nil {
				t.Errorf("PendingEnrolmentKey with stored %q.. = nil error, want one", v[:2])
			}
		}
	})
	t.Run("closed", func(t *testing.T) {
		st, _ := openStore(t)
		st.Close()
		if _, err := st.PendingEnrolmentKey(ctx, nil); err == nil {
			t.Error("PendingEnrolmentKey on a closed store succeeded")
		}
		if err := st.DropPendingEnrolmentKey(ctx); err == nil {
			t.Error("DropPendingEnrolmentKey on a closed store succeeded")
		}
	})
}
