package commandcenter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// port returns the port of a listener's address "127.0.0.1:port".
func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A scan of loopback finds the printer, with its fingerprint and public
// identity, and passes over a plain HTTP server, a TLS server with another
// API, a closed port and the addresses where nothing listens.
func TestDiscoverLoopback(t *testing.T) {
	dev := newFakeDevice("printer-0007")
	printer := startPrinter(t, deviceHandler(t, served{dev}), nil)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") }))
	t.Cleanup(plain.Close)
	other := httptest.NewTLSServer(http.NotFoundHandler()) // TLS, not a printer
	other.Config.ErrorLog = nil
	t.Cleanup(other.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	ports := []int{port(t, printer.addr()), port(t, plain.Listener.Addr().String()), port(t, other.Listener.Addr().String()), port(t, closed)}
	var mu sync.Mutex
	var progress []int
	total := 0
	found, err := Discover(t.Context(), netip.MustParsePrefix("127.0.0.0/30"), DiscoverOptions{
		Ports: ports, Rate: MaxDiscoverRate, Timeout: 5 * time.Second,
		Progress: func(done, n int) { mu.Lock(); progress = append(progress, done); total = n; mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Found{{Address: printer.addr(), Fingerprint: printer.pin, Identity: dev.identity.Identity}}
	if diff := cmp.Diff(want, found); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
	// 127.0.0.1 and .2 (the /30's network and broadcast addresses are
	// left out), each on four ports.
	if total != 8 || len(progress) != 8 || progress[len(progress)-1] != 8 {
		t.Errorf("progress %v of %d, want 1…8 of 8", progress, total)
	}

	// ProbePrinter, as the local UI pairs, says why an address is no printer.
	for _, addr := range []string{plain.Listener.Addr().String(), other.Listener.Addr().String(), closed, "no port"} {
		if f, err := ProbePrinter(t.Context(), addr, 5*time.Second); err == nil {
			t.Errorf("ProbePrinter(%s) = %+v, want an error", addr, f)
		}
	}
	if f, err := ProbePrinter(t.Context(), printer.addr(), 5*time.Second); err != nil || f.Fingerprint != printer.pin {
		t.Errorf("ProbePrinter(printer) = %+v, %v; want its fingerprint %s", f, err, printer.pin)
	}
}

// The scan opens connections at the rate asked for, the first at once,
// with no more probes in flight than allowed however slow the hosts are;
// it stops when its context ends. Time is the bubble's.
func TestDiscoverRate(t *testing.T) {
	tests := []struct {
		name        string
		rate        float64
		concurrency int
		takes       time.Duration // one probe
		wantGap     time.Duration // between starts, at least
		wantMost    int           // in flight
	}{
		{"fast hosts", 4, 8, 10 * time.Millisecond, 250 * time.Millisecond, 1},
		{"slow hosts fill the slots", 100, 2, time.Second, 10 * time.Millisecond, 2},
		{"rate above the maximum", 1e6, 64, 100 * time.Microsecond, time.Second / MaxDiscoverRate, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var starts []time.Time
				now, most := 0, 0
				probe := func(ctx context.Context, addr string, _ time.Duration) (Found, error) {
					mu.Lock()
					starts = append(starts, time.Now())
					now++
					most = max(most, now)
					mu.Unlock()
					time.Sleep(tt.takes)
					mu.Lock()
					now--
					mu.Unlock()
					return Found{}, errors.New("connection refused")
				}
				found, err := Discover(t.Context(), netip.MustParsePrefix("10.1.2.0/29"), DiscoverOptions{
					Rate: tt.rate, Concurrency: tt.concurrency, Ports: []int{8443, 9443}, probe: probe})
				if err != nil || len(found) != 0 {
					t.Fatalf("Discover = %v, %v; want nothing found, no error", found, err)
				}
				if len(starts) != 12 {
					t.Fatalf("%d probes, want 12 (6 hosts, 2 ports)", len(starts))
				}
				for i := 1; i < len(starts); i++ {
					if gap := starts[i].Sub(starts[i-1]); gap < tt.wantGap {
						t.Errorf("probe %d started %v after the one before, want at least %v", i, gap, tt.wantGap)
					}
				}
				if most > tt.wantMost {
					t.Errorf("%d probes in flight, want at most %d", most, tt.wantMost)
				}
			})
		})
	}

	t.Run("cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			n := 0
			probe := func(context.Context, string, time.Duration) (Found, error) {
				n++
				if n == 3 {
					cancel()
				}
				return Found{Address: "x"}, nil
			}
			found, err := Discover(ctx, netip.MustParsePrefix("10.1.2.0/24"), DiscoverOptions{Rate: 10, Concurrency: 1, probe: probe})
			if !errors.Is(err, context.Canceled) || len(found) != 3 {
				t.Errorf("Discover cancelled after 3 probes = %d found, %v; want 3 and context.Canceled", len(found), err)
			}
		})
	})
}

func TestParseSubnet(t *testing.T) {
	tests := []struct {
		give    string
		want    string
		wantErr error
	}{
		{"192.168.10.0/24", "192.168.10.0/24", nil},
		{" 192.168.10.77/24 ", "192.168.10.0/24", nil},
		{"10.0.0.0/16", "10.0.0.0/16", nil},
		{"10.0.0.0/15", "", ErrSubnetTooLarge},
		{"0.0.0.0/0", "", ErrSubnetTooLarge},
		{"fd00::/112", "fd00::/112", nil},
		{"fd00::/64", "", ErrSubnetTooLarge},
		{"::/0", "", ErrSubnetTooLarge},
		{"192.168.10.0", "", errAny},
		{"printers.example/24", "", errAny},
		{"", "", errAny},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := ParseSubnet(tt.give)
			switch {
			case tt.wantErr == nil && err != nil, tt.wantErr != nil && err == nil,
				tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("ParseSubnet(%q) = %v, want error %v", tt.give, err, tt.wantErr)
			}
			if err == nil && got.String() != tt.want {
				t.Errorf("ParseSubnet(%q) = %s, want %s", tt.give, got, tt.want)
			}
		})
	}
	if _, err := Discover(t.Context(), netip.MustParsePrefix("10.0.0.0/8"), DiscoverOptions{}); !errors.Is(err, ErrSubnetTooLarge) {
		t.Errorf("Discover of a /8: %v, want ErrSubnetTooLarge", err)
	}
}

func TestParsePorts(t *testing.T) {
	tests := []struct {
		give    string
		want    []int
		wantErr bool
	}{
		{"8443", []int{8443}, false},
		{"8443, 9443", []int{8443, 9443}, false},
		{"0", nil, true},
		{"65536", nil, true},
		{"8443,8443", nil, true},
		{"", nil, true},
		{"8443,", nil, true},
		{"http", nil, true},
		{"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := ParsePorts(tt.give)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsePorts(%q) = %v, want error %v", tt.give, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePorts(%q) (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

func TestHosts(t *testing.T) {
	tests := []struct {
		give string
		want []string
	}{
		{"127.0.0.0/30", []string{"127.0.0.1", "127.0.0.2"}},
		{"10.0.0.4/31", []string{"10.0.0.4", "10.0.0.5"}},
		{"10.0.0.4/32", []string{"10.0.0.4"}},
		{"fd00::/126", []string{"fd00::", "fd00::1", "fd00::2", "fd00::3"}},
		{"255.255.255.252/30", []string{"255.255.255.253", "255.255.255.254"}},
	}
	for _, tt := range tests {
		var got []string
		for _, a := range hosts(netip.MustParsePrefix(tt.give)) {
			got = append(got, a.String())
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("hosts(%s) (-want +got):\n%s", tt.give, diff)
		}
	}
}

// The operator's subnet, ports and addresses (from the command line, the
// local UI's forms and its API) never panic the parsers, and what they
// accept keeps the limits.
func FuzzDiscoverInputs(f *testing.F) {
	for _, s := range []string{"192.168.10.0/24", "10.0.0.0/8", "fd00::/112", "8443,9443", "0", "printer-a:8443", "[fd00::1]:8443", "a b:1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := ParseSubnet(s); err == nil {
			if bits := p.Addr().BitLen() - p.Bits(); bits > 16 || len(hosts(p)) > MaxDiscoverHosts {
				t.Errorf("ParseSubnet(%q) = %s: %d host bits", s, p, bits)
			}
		}
		if ports, err := ParsePorts(s); err == nil {
			if len(ports) == 0 || len(ports) > MaxDiscoverPorts {
				t.Errorf("ParsePorts(%q) = %v", s, ports)
			}
			for _, n := range ports {
				if n < 1 || n > 65535 {
					t.Errorf("ParsePorts(%q) = %v", s, ports)
				}
			}
		}
		if err := CheckPrinterAddress(s); err == nil {
			if _, _, err := net.SplitHostPort(s); err != nil || strings.ContainsAny(s, " /@") {
				t.Errorf("CheckPrinterAddress(%q) accepted it", s)
			}
		}
	})
}
