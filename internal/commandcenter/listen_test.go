package commandcenter

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
)

// takenThenFree asks the OS for a port on host that it holds until the
// test ends, and whose next port is free.
func takenThenFree(t *testing.T, host string) (taken int) {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port < 65535 {
			if next, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port+1))); err == nil {
				next.Close()
				t.Cleanup(func() { l.Close() })
				return port
			}
		}
		l.Close()
	}
	t.Skip("found no free port next to one the OS gave")
	return 0
}

func TestListenLocal(t *testing.T) {
	const host = "127.0.0.1"
	first := takenThenFree(t, host)
	last := first + 1

	l, err := ListenLocal(host, first, last)
	if err != nil {
		t.Fatalf("ListenLocal: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	if got, want := l.Addr().String(), fmt.Sprintf("%s:%d", host, last); got != want {
		t.Errorf("listening on %s, want the first free port %s", got, want)
	}

	_, err = ListenLocal(host, first, last)
	if want := fmt.Sprintf("no free port in %d–%d on 127.0.0.1", first, last); err == nil || err.Error() != want {
		t.Errorf("ListenLocal with every port taken: error = %v, want %q", err, want)
	}
}

func TestListenLocalErrors(t *testing.T) {
	tests := []struct {
		name        string
		host        string
		first, last int
		want        string
	}{
		{"reversed range", "127.0.0.1", 2, 1, "invalid port range"},
		{"port zero", "127.0.0.1", 0, 10, "invalid port range"},
		{"port too high", "127.0.0.1", 65535, 65536, "invalid port range"},
		// Binding a link-local address with an unknown zone fails locally
		// (no traffic) with an error other than "in use": returned at once.
		{"host not bindable", "fe80::1%nonexistent0", 1024, 1026, "listen on fe80::1%nonexistent0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ListenLocal(tt.host, tt.first, tt.last)
			if err == nil {
				l.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ListenLocal(%q, %d, %d) error = %v, want %q", tt.host, tt.first, tt.last, err, tt.want)
			}
		})
	}
}

// Ports 0 and 0 take any free port: for tests and for sites that set
// -ui-ports 0.
func TestListenLocalAnyPort(t *testing.T) {
	l, err := ListenLocal("127.0.0.1", 0, 0)
	if err != nil {
		t.Fatalf("ListenLocal: %v", err)
	}
	defer l.Close()
	if port := l.Addr().(*net.TCPAddr).Port; port == 0 {
		t.Errorf("listening on %s, want a port", l.Addr())
	}
}
