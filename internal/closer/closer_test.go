package closer

import (
	"errors"
	"fmt"
	"net"
	"testing"
)

func TestStack(t *testing.T) {
	var order []string
	boom := errors.New("boom")
	var s Stack
	for _, name := range []string{"lock", "listener", "store", "stream"} {
		s.Push(func() error {
			order = append(order, name)
			switch name {
			case "listener":
				return fmt.Errorf("close: %w", net.ErrClosed) // closed by the server already
			case "store":
				return boom
			}
			return nil
		})
	}
	if err := s.Close(); !errors.Is(err, boom) || errors.Is(err, net.ErrClosed) {
		t.Fatalf("Close = %v, want the store's error only", err)
	}
	if got, want := fmt.Sprint(order), "[stream store listener lock]"; got != want {
		t.Errorf("closed in order %s, want %s", got, want)
	}
	if err := s.Close(); !errors.Is(err, boom) {
		t.Errorf("second Close = %v, want the first one's error", err)
	}
	if len(order) != 4 {
		t.Errorf("second Close closed again: %v", order)
	}
	var empty Stack
	if err := empty.Close(); err != nil {
		t.Errorf("empty Close = %v", err)
	}
}
