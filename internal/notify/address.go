package notify

import (
	"fmt"
	"net/netip"
)

// specialRange is a block of the IANA IPv4 or IPv6 Special-Purpose Address
// Registry (RFC 6890 and its successors), or another block that is no
// public unicast address.
type specialRange struct {
	prefix netip.Prefix
	name   string
}

// specialRanges are the addresses a webhook may not reach (unless private
// webhooks are allowed): the special-purpose registries in full, even
// where a few addresses inside a block are globally reachable, plus
// multicast and the reserved 240.0.0.0/4. More specific blocks come first,
// so that a refusal names the narrowest one. IPv4-mapped IPv6 addresses
// (::ffff:0:0/96) are not listed: their IPv4 address is checked instead.
var specialRanges = []specialRange{
	// IPv4.
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network"`},
	{netip.MustParsePrefix("10.0.0.0/8"), "private-use"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space of carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private-use"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation (TEST-NET-1)"},
	{netip.MustParsePrefix("192.31.196.0/24"), "AS112-v4"},
	{netip.MustParsePrefix("192.52.193.0/24"), "AMT"},
	{netip.MustParsePrefix("192.88.99.0/24"), "deprecated 6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private-use"},
	{netip.MustParsePrefix("192.175.48.0/24"), "direct delegation AS112 service"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation (TEST-NET-2)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation (TEST-NET-3)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "limited broadcast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	// IPv6.
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("64:ff9b::/96"), "IPv4-IPv6 translation (NAT64)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use IPv4-IPv6 translation (NAT64)"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing (SRv6) SIDs"},
	{netip.MustParsePrefix("fc00::/7"), "unique local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// AddressError is the refusal of an address that is not public: Addr lies
// in Prefix, a block for Purpose.
type AddressError struct {
	Addr    netip.Addr
	Prefix  netip.Prefix
	Purpose string
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("%s is in %s (%s), not a public address", e.Addr, e.Prefix, e.Purpose)
}

// checkPublic returns an error, an *AddressError for an address in a
// special range, unless a webhook may connect to
// addr: a public unicast address, in none of specialRanges. An IPv4-mapped
// IPv6 address is judged by its IPv4 address.
func checkPublic(addr netip.Addr) error {
	a := addr.WithZone("").Unmap()
	if !a.IsValid() {
		return fmt.Errorf("invalid address %v", addr)
	}
	for _, r := range specialRanges {
		if r.prefix.Contains(a) {
			return &AddressError{Addr: addr, Prefix: r.prefix, Purpose: r.name}
		}
	}
	return nil
}
