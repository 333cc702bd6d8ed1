package httpserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
)

// ListenDebug opens the profiling listener on addr, which must be a
// loopback address (127.0.0.0/8 or [::1]) with a port: profiles show
// what the process holds, and the handlers may run for as long as a
// profile is asked for, so they are for whoever is on the machine.
func ListenDebug(ctx context.Context, addr string) (net.Listener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("debug listener %q: want a loopback address with a port, such as 127.0.0.1:6060", addr)
	}
	return (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
}

// Debug serves Go's profiles under /debug/pprof/ (net/http/pprof), on a
// listener of its own (ListenDebug), never on a public one.
func Debug() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
