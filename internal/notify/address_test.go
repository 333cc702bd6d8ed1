package notify_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/notify"
)

// TestWebhookAddress covers every special-purpose range: an address inside
// is refused when the channel is saved, naming the range; the nearest
// public address outside (where there is one) is accepted.
func TestWebhookAddress(t *testing.T) {
	tests := []struct {
		host    string
		refused string // "" → public
	}{
		// IPv4.
		{"0.0.0.0", "0.0.0.0/8"},
		{"0.255.255.255", "0.0.0.0/8"},
		{"1.0.0.0", ""},
		{"9.255.255.255", ""},
		{"10.0.0.1", "10.0.0.0/8"},
		{"11.0.0.0", ""},
		{"100.63.255.255", ""},
		{"100.64.0.1", "100.64.0.0/10"},
		{"100.127.255.255", "100.64.0.0/10"},
		{"100.128.0.0", ""},
		{"127.0.0.1", "127.0.0.0/8"},
		{"128.0.0.1", ""},
		{"169.253.255.255", ""},
		{"169.254.169.254", "169.254.0.0/16"},
		{"169.255.0.0", ""},
		{"172.15.255.255", ""},
		{"172.16.0.1", "172.16.0.0/12"},
		{"172.31.255.255", "172.16.0.0/12"},
		{"172.32.0.0", ""},
		{"192.0.0.8", "192.0.0.0/24"},
		{"192.0.1.0", ""},
		{"192.0.2.1", "192.0.2.0/24"},
		{"192.0.3.0", ""},
		{"192.31.196.1", "192.31.196.0/24"},
		{"192.31.197.0", ""},
		{"192.52.193.1", "192.52.193.0/24"},
		{"192.52.194.0", ""},
		{"192.88.98.255", ""},
		{"192.88.99.1", "192.88.99.0/24"},
		{"192.167.255.255", ""},
		{"192.168.1.1", "192.168.0.0/16"},
		{"192.169.0.0", ""},
		{"192.175.48.1", "192.175.48.0/24"},
		{"192.175.49.0", ""},
		{"198.17.255.255", ""},
		{"198.18.0.1", "198.18.0.0/15"},
		{"198.19.255.255", "198.18.0.0/15"},
		{"198.20.0.0", ""},
		{"198.51.100.1", "198.51.100.0/24"},
		{"198.51.101.0", ""},
		{"203.0.113.1", "203.0.113.0/24"},
		{"203.0.114.0", ""},
		{"223.255.255.255", ""},
		{"224.0.0.1", "224.0.0.0/4"},
		{"239.255.255.255", "224.0.0.0/4"},
		{"240.0.0.1", "240.0.0.0/4"},
		{"255.255.255.254", "240.0.0.0/4"},
		{"255.255.255.255", "255.255.255.255/32"},
		{"8.8.8.8", ""},
		// IPv6.
		{"[::]", "::/128"},
		{"[::1]", "::1/128"},
		{"[::7f00:1]", "::/96"},
		{"[::808:808]", "::/96"},
		{"[::ffff:10.0.0.1]", "10.0.0.0/8"},
		{"[::ffff:198.18.0.1]", "198.18.0.0/15"},
		{"[::ffff:8.8.8.8]", ""},
		{"[64:ff9b::c000:201]", "64:ff9b::/96"},
		{"[64:ff9b::808:808]", "64:ff9b::/96"},
		{"[64:ff9b:1::1]", "64:ff9b:1::/48"},
		{"[100::1]", "100::/64"},
		{"[2001::1]", "2001::/32"},
		{"[2001:1::1]", "2001::/23"},
		{"[2001:1ff:ffff::1]", "2001::/23"},
		{"[2001:200::1]", ""},
		{"[2001:db8::1]", "2001:db8::/32"},
		{"[2001:db7:ffff::1]", ""},
		{"[2001:db9::1]", ""},
		{"[2002::1]", "2002::/16"},
		{"[2002:c000:201::1]", "2002::/16"},
		{"[2003::1]", ""},
		{"[3fff::1]", "3fff::/20"},
		{"[3fff:1000::1]", ""},
		{"[5f00::1]", "5f00::/16"},
		{"[fc00::1]", "fc00::/7"},
		{"[fd12:3456::1]", "fc00::/7"},
		{"[fe80::1]", "fe80::/10"},
		{"[fe80::1%25eth0]", "fe80::/10"},
		{"[ff02::1]", "ff00::/8"},
		{"[2606:4700:4700::1111]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			url := "https://" + tt.host + ":8443/hook"
			err := notify.CheckWebhookURL(url, false)
			var ae *notify.AddressError
			switch {
			case tt.refused == "" && err != nil:
				t.Errorf("CheckWebhookURL = %v, want nil", err)
			case tt.refused != "" && !errors.As(err, &ae):
				t.Errorf("CheckWebhookURL = %v, want an *AddressError", err)
			case tt.refused != "" && ae.Prefix.String() != tt.refused:
				t.Errorf("refused in %s (%v), want %s", ae.Prefix, err, tt.refused)
			}
			if err := notify.CheckWebhookURL(url, true); err != nil {
				t.Errorf("with private webhooks allowed: CheckWebhookURL = %v, want nil", err)
			}
		})
	}
}

func TestWebhookAddressMessage(t *testing.T) {
	err := notify.CheckWebhookURL("https://198.18.0.1/hook", false)
	want := "webhook URL: 198.18.0.1 is in 198.18.0.0/15 (benchmarking), not a public address"
	if err == nil || err.Error() != want {
		t.Errorf("CheckWebhookURL = %v, want %q", err, want)
	}
}

// A host name that resolves to special-purpose addresses only is refused
// at delivery, on every address the resolver returns, before connecting.
func TestWebhookResolvedAddressRefused(t *testing.T) {
	dns := fakeDNS(t, netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("64:ff9b::c612:1"))
	e := newEnv(t)
	e.webhook(t, "https://hooks.example.com/fusionfleet")
	d := e.dispatcher(t, notify.Options{WebhookResolver: dns})
	if err := d.Notify(t.Context(), e.alert(1)); err != nil {
		t.Fatal(err)
	}
	sendDue(t, d, 1)
	l := e.log(t)
	if len(l) != 1 || l[0].Status != fleet.DeliveryFailed || !strings.Contains(l[0].Error, "not a public address") {
		t.Fatalf("log = %+v, want one refusal", l)
	}
	if !strings.Contains(l[0].Error, "198.18.0.0/15") && !strings.Contains(l[0].Error, "64:ff9b::/96") {
		t.Errorf("refusal %q names neither range", l[0].Error)
	}
}

// fakeDNS returns a resolver whose DNS server (on loopback UDP) answers
// every A question with v4 and every AAAA question with v6.
func fakeDNS(t *testing.T, v4, v6 netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if a := dnsAnswer(buf[:n], v4, v6); a != nil {
				pc.WriteTo(a, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// dnsAnswer is the answer to the DNS query q: one A or AAAA record, or no
// record for other types.
func dnsAnswer(q []byte, v4, v6 netip.Addr) []byte {
	const header = 12
	i := header
	for i < len(q) && q[i] != 0 { // the question's name, label by label
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[header : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])
	var rdata []byte
	switch qtype {
	case 1:
		rdata = v4.AsSlice()
	case 28:
		rdata = v6.AsSlice()
	}
	a := append([]byte{}, q[:2]...)                   // ID
	a = append(a, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0) // response, recursion; 1 question
	if rdata != nil {
		a[7] = 1 // one answer
	}
	a = append(a, question...)
	if rdata != nil {
		a = append(a, 0xc0, header) // the question's name
		a = binary.BigEndian.AppendUint16(a, qtype)
		a = append(a, 0, 1, 0, 0, 0, 60) // class IN, TTL 60 s
		a = binary.BigEndian.AppendUint16(a, uint16(len(rdata)))
		a = append(a, rdata...)
	}
	return a
}
