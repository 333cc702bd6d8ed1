package sitebench

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// The proxy counts every byte both ways and every connection.
func TestCountingProxy(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	_, err = benchrun.Run(t.Context(), 1, func(b benchrun.B) {
		p := startCountingProxy(b, echo.Addr().String())
		for range 2 {
			c, err := net.Dial("tcp", p.addr())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Write([]byte("hello, cloud")); err != nil {
				b.Fatal(err)
			}
			c.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(c)
			c.Close()
			if err != nil || string(got) != "hello, cloud" {
				b.Fatalf("echo through the proxy = %q, %v", got, err)
			}
		}
		// The forwarding goroutines count when each half ends.
		deadline := time.Now().Add(5 * time.Second)
		for p.bytes.Load() < 48 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // polls a counter the proxy's goroutines move
		}
		if got := p.bytes.Load(); got != 48 {
			b.Errorf("bytes = %d, want 48 (12 each way, twice)", got)
		}
		if got := p.conns.Load(); got != 2 {
			b.Errorf("connections = %d, want 2", got)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A state the stream shows is matched with when the printer last entered
// it, counting the states passed through unseen.
func TestStateWatchEnteredBefore(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	w := &stateWatch{entered: map[fleet.PrinterID][]stateEntry{"p": {
		{fleet.StateIdle, t0},
		{fleet.StatePrinting, t0.Add(time.Second)},
		{fleet.StateIdle, t0.Add(2 * time.Second)},
		{fleet.StatePrinting, t0.Add(3 * time.Second)},
	}}}
	tests := []struct {
		name        string
		state, prev fleet.State
		at          time.Time
		wantAt      time.Time
		wantSkipped int
		wantOK      bool
	}{
		{"last entry", fleet.StatePrinting, fleet.StateIdle, t0.Add(4 * time.Second), t0.Add(3 * time.Second), 0, true},
		{"before the last entry", fleet.StatePrinting, fleet.StateIdle, t0.Add(2500 * time.Millisecond), t0.Add(time.Second), 0, true},
		{"states unseen in between", fleet.StatePrinting, fleet.StatePrinting, t0.Add(4 * time.Second), t0.Add(3 * time.Second), 1, true},
		{"never in that state", fleet.StateError, fleet.StateIdle, t0.Add(4 * time.Second), time.Time{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, skipped, ok := w.enteredBefore("p", tt.state, tt.prev, tt.at)
			if !at.Equal(tt.wantAt) || skipped != tt.wantSkipped || ok != tt.wantOK {
				t.Errorf("enteredBefore = %v, %d, %v; want %v, %d, %v", at, skipped, ok, tt.wantAt, tt.wantSkipped, tt.wantOK)
			}
		})
	}
}
