package commandcenter

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// ListenLocal listens on the first free TCP port in [first, last] on host
// (R-ARCH-6: the local UI takes a port in 8080–8090 and says which; the
// caller logs l.Addr()). A port in use is skipped; any other failure, such
// as a host that is not an address of this machine, is returned at once.
// first and last both 0 take any free port the system picks.
func ListenLocal(host string, first, last int) (net.Listener, error) {
	if first == 0 && last == 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", host, err)
		}
		return l, nil
	}
	if first < 1 || last > 65535 || first > last {
		return nil, fmt.Errorf("listen on %s: invalid port range %d–%d", host, first, last)
	}
	for port := first; port <= last; port++ {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen on %s: %w", host, err)
		}
	}
	return nil, fmt.Errorf("no free port in %d–%d on %s", first, last, host)
}
