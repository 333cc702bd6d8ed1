package dashboard

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// LoginThrottle counts failed logins in the store, per user name and
// client address and per user name, so that every cloud node sharing the
// database applies the same locks (the store decides the back-off). A
// wrong password and a wrong second-factor code both count; the name need
// not exist, so a lock reveals nothing about accounts.
type LoginThrottle interface {
	LoginLockedUntil(ctx context.Context, name, address string, now time.Time) (time.Time, error)
	LoginFailed(ctx context.Context, name, address string, now time.Time) error
	LoginSucceeded(ctx context.Context, name, address string) error
}

// clientAddress is the address the login throttle counts a request's
// failures under: the peer's IP address, or, when the peer is one of the
// trusted proxies, the nearest address in X-Forwarded-For that is not a
// trusted proxy itself (the proxies append; whatever stands further left
// the client wrote). Without trusted proxies the header is ignored: anyone
// could write it. An IPv6 address counts as its /64, the block one
// subscriber usually holds, so that a single attacker cannot take a fresh
// count for each of the addresses he has.
func (h *handler) clientAddress(r *http.Request) string {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if h.trusted(peer) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := parseAddr(strings.TrimSpace(hops[i]))
			if !ok {
				break
			}
			peer = a
			if !h.trusted(a) {
				break
			}
		}
	}
	if peer.Is6() {
		p, _ := peer.Prefix(64) // cannot fail: 64 bits fit an IPv6 address
		return p.String()
	}
	return peer.String()
}

// parseAddr parses "ip", "ip:port" or "[ip]:port", unmapping an IPv4 address
// written as IPv6 and dropping a zone.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func (h *handler) trusted(a netip.Addr) bool {
	for _, p := range h.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// loginLocked reports whether logins of name from the request's client
// address are locked now.
func (h *handler) loginLocked(r *http.Request, throttle LoginThrottle, name string) (bool, error) {
	now := h.authClock.Now()
	until, err := throttle.LoginLockedUntil(r.Context(), name, h.clientAddress(r), now)
	return now.Before(until), err
}
