package commandcenter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Discovery scans a subnet the operator names for printers' device APIs,
// so that a site with fifty printers need not type fifty addresses. It
// sends nothing beyond that subnet and the ports given, at a bounded rate
// and with a bounded number of connections open, and reads from each host
// only what a printer serves to anyone: its certificate and its public
// identity. Nothing is pinned: each printer found is offered to the
// operator with its fingerprint, to compare with the printer's panel.

// Discovery limits.
const (
	// MaxDiscoverHosts is the most addresses one scan covers: an IPv4 /16.
	// A larger subnet is refused: it is not one site's printer LAN, and
	// scanning it would take hours at a polite rate.
	MaxDiscoverHosts = 1 << 16
	// MaxDiscoverPorts is the most ports a scan tries on each host.
	MaxDiscoverPorts = 16
	// DefaultDiscoverPort is the device API's usual port.
	DefaultDiscoverPort = 8443
	// DefaultDiscoverRate is how many connections a scan opens a second.
	DefaultDiscoverRate = 50
	// MaxDiscoverRate bounds the rate an operator may ask for.
	MaxDiscoverRate = 1000
	// DefaultDiscoverConcurrency is how many probes are in flight at most.
	DefaultDiscoverConcurrency = 32
	// DefaultDiscoverTimeout bounds one probe: connection, handshake and
	// reading the identity.
	DefaultDiscoverTimeout = 2 * time.Second
)

// ErrSubnetTooLarge is the error of a subnet of more than MaxDiscoverHosts
// addresses.
var ErrSubnetTooLarge = errors.New("subnet too large")

// DiscoverOptions tune Discover. The zero value works.
type DiscoverOptions struct {
	Ports       []int         // tried on each host; nil → DefaultDiscoverPort
	Rate        float64       // connections a second; 0 → DefaultDiscoverRate
	Concurrency int           // probes in flight; 0 → DefaultDiscoverConcurrency
	Timeout     time.Duration // one probe; 0 → DefaultDiscoverTimeout
	// Progress, if set, learns after each probe how many of total are done.
	// It is called from one goroutine at a time.
	Progress func(done, total int)

	// probe reads one address (probeDevice); a seam for the tests.
	probe func(ctx context.Context, addr string, timeout time.Duration) (Found, error)
}

// Found is a device API discovery found.
type Found struct {
	Address     string                `json:"address"` // host:port
	Fingerprint deviceapi.Fingerprint `json:"fingerprint"`
	// Identity is what the printer's public identity route said; its
	// model and serial number help the operator tell printers apart.
	Identity fleet.Identity `json:"identity"`
}

// ParseSubnet parses the subnet a scan covers, in CIDR notation, and
// refuses one of more than MaxDiscoverHosts addresses.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("subnet %q: want CIDR notation, as 192.168.10.0/24: %w", s, err)
	}
	p = p.Masked()
	if hostBits := p.Addr().BitLen() - p.Bits(); hostBits > 16 {
		return netip.Prefix{}, fmt.Errorf("subnet %s: %w: %s addresses, at most %d (an IPv4 /16); name the printers' own subnet",
			p, ErrSubnetTooLarge, subnetSize(hostBits), MaxDiscoverHosts)
	}
	return p, nil
}

// subnetSize is 2^hostBits, as a text for the error, however large.
func subnetSize(hostBits int) string {
	if hostBits < 63 {
		return strconv.FormatUint(1<<hostBits, 10)
	}
	return "2^" + strconv.Itoa(hostBits)
}

// ParsePorts parses a comma-separated list of ports ("8443,9443"): at most
// MaxDiscoverPorts, each 1–65535, no repeats.
func ParsePorts(s string) ([]int, error) {
	var ports []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q: want a number 1–65535", f)
		}
		if slices.Contains(ports, n) {
			return nil, fmt.Errorf("port %d named twice", n)
		}
		ports = append(ports, n)
	}
	if len(ports) > MaxDiscoverPorts {
		return nil, fmt.Errorf("%d ports: at most %d", len(ports), MaxDiscoverPorts)
	}
	return ports, nil
}

// hosts returns the addresses of p a scan tries: all of them, but for an
// IPv4 subnet of more than two addresses its network and broadcast
// addresses.
func hosts(p netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for a := p.Addr(); p.Contains(a); a = a.Next() {
		out = append(out, a)
		if !a.Next().IsValid() {
			break
		}
	}
	if p.Addr().Is4() && p.Bits() <= 30 && len(out) > 2 {
		out = out[1 : len(out)-1]
	}
	return out
}

// Discover scans subnet for device APIs on opts.Ports and returns those
// found, by address. Hosts that do not answer, answer without TLS, or
// answer TLS without a printer's identity are passed over. It returns
// early with ctx's error, and what it found so far, when ctx ends.
func Discover(ctx context.Context, subnet netip.Prefix, opts DiscoverOptions) ([]Found, error) {
	if hostBits := subnet.Addr().BitLen() - subnet.Bits(); !subnet.IsValid() || hostBits > 16 {
		return nil, fmt.Errorf("discover %s: %w", subnet, ErrSubnetTooLarge)
	}
	if len(opts.Ports) == 0 {
		opts.Ports = []int{DefaultDiscoverPort}
	}
	if len(opts.Ports) > MaxDiscoverPorts {
		return nil, fmt.Errorf("discover %s: %d ports, at most %d", subnet, len(opts.Ports), MaxDiscoverPorts)
	}
	if opts.Rate <= 0 {
		opts.Rate = DefaultDiscoverRate
	}
	opts.Rate = min(opts.Rate, MaxDiscoverRate)
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultDiscoverConcurrency
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultDiscoverTimeout
	}
	if opts.probe == nil {
		opts.probe = probeDevice
	}
	var addrs []string
	for _, h := range hosts(subnet) {
		for _, port := range opts.Ports {
			addrs = append(addrs, netip.AddrPortFrom(h, uint16(port)).String())
		}
	}

	var (
		mu    sync.Mutex
		found []Found
		done  int
		wg    sync.WaitGroup
	)
	// One connection every 1/Rate: the first at once, and never more than
	// Concurrency probes open, however slow the hosts are to answer.
	tick := time.NewTicker(time.Duration(float64(time.Second) / opts.Rate))
	defer tick.Stop()
	slots := make(chan struct{}, opts.Concurrency)
	var err error
scan:
	for i, addr := range addrs {
		if i > 0 {
			select {
			case <-ctx.Done():
				err = ctx.Err()
				break scan
			case <-tick.C:
			}
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
			break scan
		case slots <- struct{}{}:
		}
		wg.Go(func() {
			defer func() { <-slots }()
			f, perr := opts.probe(ctx, addr, opts.Timeout)
			mu.Lock()
			defer mu.Unlock()
			if perr == nil {
				found = append(found, f)
			}
			done++
			if opts.Progress != nil {
				opts.Progress(done, len(addrs))
			}
		})
	}
	wg.Wait()
	slices.SortFunc(found, func(a, b Found) int { return compareAddr(a.Address, b.Address) })
	if err != nil {
		return found, fmt.Errorf("discover %s: %w", subnet, err)
	}
	return found, nil
}

// compareAddr orders "ip:port" addresses by IP, then port.
func compareAddr(a, b string) int {
	pa, erra := netip.ParseAddrPort(a)
	pb, errb := netip.ParseAddrPort(b)
	if erra != nil || errb != nil {
		return strings.Compare(a, b)
	}
	return cmp.Or(pa.Addr().Compare(pb.Addr()), cmp.Compare(pa.Port(), pb.Port()))
}

// ProbePrinter reads what the printer at addr ("host:port") serves to a
// client not paired yet: its certificate's fingerprint and its public
// identity. An address that does not answer, or answers without a
// printer's identity, is an error. The local UI pairs with it.
func ProbePrinter(ctx context.Context, addr string, timeout time.Duration) (Found, error) {
	if err := CheckPrinterAddress(addr); err != nil {
		return Found{}, err
	}
	if timeout <= 0 {
		timeout = DefaultDiscoverTimeout
	}
	return probeDevice(ctx, addr, timeout)
}

// probeDevice is ProbePrinter without the checks of its arguments.
func probeDevice(ctx context.Context, addr string, timeout time.Duration) (Found, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fp, err := deviceapi.Probe(ctx, addr)
	if err != nil {
		return Found{}, err
	}
	// The identity is read over a connection pinned to the certificate
	// just seen, so it comes from the same printer; no client certificate
	// is presented: the identity is public.
	c := deviceapi.NewClient(addr, fp, deviceapi.ClientOptions{Timeout: timeout, MaxResponseBytes: 64 << 10})
	defer c.CloseIdleConnections()
	id, err := c.Identity(ctx)
	if err != nil {
		return Found{}, fmt.Errorf("%s is not a printer's device API: %w", addr, err)
	}
	return Found{Address: addr, Fingerprint: fp, Identity: id.Identity}, nil
}

// CheckPrinterAddress reports whether addr is a printer's address as the
// Command Center takes it: host:port, the host a name or an IP address,
// the port 1–65535.
func CheckPrinterAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("printer address %q: want host:port, as 192.168.10.21:8443: %w", addr, err)
	}
	n, err := strconv.Atoi(port)
	if host == "" || len(addr) > 255 || err != nil || n < 1 || n > 65535 ||
		strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == '/' || r == '@' }) {
		return fmt.Errorf("printer address %q: want host:port, as 192.168.10.21:8443", addr)
	}
	return nil
}
