package commandcenter

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestListenLocal(t *testing.T) {
	const host, first, last = "127.0.0.1", 38080, 38082
	var held []net.Listener
	t.Cleanup(func() {
		for _, l := range held {
			l.Close()
		}
	})
	for port := first; port < last; port++ {
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", host, port))
		if err != nil {
			t.Skipf("port %d is not free on this machine: %v", port, err)
		}
		held = append(held, l)
	}

	l, err := ListenLocal(host, first, last)
	if err != nil {
		t.Fatalf("ListenLocal: %v", err)
	}
	if got, want := l.Addr().String(), fmt.Sprintf("%s:%d", host, last); got != want {
		t.Errorf("listening on %s, want the first free port %s", got, want)
	}
	held = append(held, l)

	_, err = ListenLocal(host, first, last)
	if want := "no free port in 38080–38082 on 127.0.0.1"; err == nil || err.Error() != want {
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
		{"reversed range", "127.0.0.1", 38090, 38080, "invalid port range"},
		{"port zero", "127.0.0.1", 0, 10, "invalid port range"},
		{"port too high", "127.0.0.1", 65535, 65536, "invalid port range"},
		// Binding a link-local address with an unknown zone fails locally
		// (no traffic) with an error other than "in use": returned at once.
		{"host not bindable", "fe80::1%nonexistent0", 38080, 38082, "listen on fe80::1%nonexistent0"},
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
