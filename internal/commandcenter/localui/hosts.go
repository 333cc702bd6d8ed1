package localui

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// The local UI has no login. What keeps a web page of another site, open
// in a browser on the Command Center's PC, from reading the UI or
// submitting its forms is the Host header: a page that rebinds its own
// name to 127.0.0.1 reaches the listener, but its requests still carry its
// own name in Host and Origin. So the UI serves only requests addressed
// to a loopback name or address, or to a host name the site configured,
// with the listener's port; writes must come from such an origin too.

// hostSet is the set of names the local UI answers to: the loopback names
// and the configured ones.
type hostSet struct {
	ports map[string]string // lower-case configured host → its port, "" → the listener's
}

func newHostSet(hosts []string) hostSet {
	s := hostSet{ports: make(map[string]string, len(hosts))}
	for _, h := range hosts {
		host, port := splitHostPort(strings.TrimSpace(h), "")
		if host != "" {
			s.ports[canonicalHost(host)] = port
		}
	}
	return s
}

// allows reports whether hostport (a Host header or an origin's host;
// without a port, defaultPort) addresses the local UI listening on
// localPort ("" → unknown, any port).
func (s hostSet) allows(hostport, defaultPort, localPort string) bool {
	host, port := splitHostPort(hostport, defaultPort)
	host = canonicalHost(host)
	want, configured := s.ports[host]
	if !configured && !IsLoopback(host) {
		return false
	}
	if want == "" {
		want = localPort
	}
	return want == "" || port == want
}

// allowsOrigin reports whether origin, an Origin header, is the local UI
// itself under one of its names.
func (s hostSet) allowsOrigin(origin, localPort string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return false
	}
	switch u.Scheme {
	case "http":
		return s.allows(u.Host, "80", localPort)
	case "https":
		return s.allows(u.Host, "443", localPort)
	}
	return false
}

// guard refuses, before any route runs, a request not addressed to the
// local UI (421) and a write from an origin other than the UI's own
// (403).
func (s hostSet) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		localPort := listenerPort(r)
		defaultPort := "80"
		if r.TLS != nil {
			defaultPort = "443"
		}
		if !s.allows(r.Host, defaultPort, localPort) {
			http.Error(w, "misdirected request: the local UI answers only to localhost and the host names configured for it",
				http.StatusMisdirectedRequest)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if origin := r.Header.Get("Origin"); origin != "" && !s.allowsOrigin(origin, localPort) {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// IsLoopback reports whether host, a host name or IP address without a
// port, names the local machine only: localhost, 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	host = canonicalHost(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.IsLoopback()
}

func canonicalHost(host string) string {
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// splitHostPort splits host:port, [v6]:port, [v6] or host; without a
// port, the port is defaultPort.
func splitHostPort(hostport, defaultPort string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), defaultPort
}

// listenerPort is the port of the listener r came in on, "" when r did
// not come through an http.Server.
func listenerPort(r *http.Request) string {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return ""
	}
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return ""
	}
	return port
}

// requirePassword serves only requests that present password with HTTP
// Basic authentication (any user name), and answers others 401; /healthz
// and the mirror's /tuf/ (signed updates for the printers, no private
// names) stay open.
func requirePassword(password string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || strings.HasPrefix(r.URL.Path, "/tuf/") {
			next.ServeHTTP(w, r)
			return
		}
		_, got, ok := r.BasicAuth()
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="Command Center", charset="UTF-8"`)
			http.Error(w, "the local UI needs its password", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
