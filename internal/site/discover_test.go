package site

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/printer"
)

// Discovery on loopback: printers paired before are marked so, new ones
// are pinned when the operator confirms, kept pending with Pending, and
// left alone otherwise; a printer presenting another certificate than the
// one pinned at its address is flagged, never re-pinned.
func TestDiscover(t *testing.T) {
	a := startPrinter(t, printer.Options{Name: "3DP 1", Seed: 1})
	b := startPrinter(t, printer.Options{Name: "3DP 2", Seed: 2})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	var ports []string
	for _, addr := range []string{a, b, closed} {
		_, p, _ := net.SplitHostPort(addr)
		ports = append(ports, p)
	}
	pinOf := func(addr string) deviceapi.Fingerprint {
		fp, err := deviceapi.Probe(t.Context(), addr)
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	pinA, pinB := pinOf(a), pinOf(b)
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)

	tests := []struct {
		name     string
		paired   map[string]deviceapi.Fingerprint // in the store before
		pending  bool
		confirm  func(Discovered) (bool, error)
		want     map[string]DiscoveredState
		wantPins []string // printers pinned after
		wantPend []string // pending after
		wantErr  bool
	}{
		{name: "scan only", want: map[string]DiscoveredState{a: DiscoveredNew, b: DiscoveredNew}},
		{name: "pending", paired: map[string]deviceapi.Fingerprint{a: pinA}, pending: true,
			want: map[string]DiscoveredState{a: DiscoveredPaired, b: DiscoveredPending}, wantPins: []string{a}, wantPend: []string{b}},
		{name: "confirmed one by one", pending: true,
			confirm: func(d Discovered) (bool, error) { return d.Address == b, nil },
			want:    map[string]DiscoveredState{a: DiscoveredPending, b: DiscoveredPinned}, wantPins: []string{b}, wantPend: []string{a}},
		{name: "refused", confirm: func(Discovered) (bool, error) { return false, nil },
			want: map[string]DiscoveredState{a: DiscoveredNew, b: DiscoveredNew}},
		{name: "answer unreadable", confirm: func(Discovered) (bool, error) { return false, errors.New("stdin closed") },
			wantErr: true},
		{name: "certificate differs", paired: map[string]deviceapi.Fingerprint{a: pinB}, pending: true,
			want: map[string]DiscoveredState{a: DiscoveredMismatch, b: DiscoveredPending}, wantPins: []string{a}, wantPend: []string{b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.paired != nil {
				st, err := commandcenter.Open(t.Context(), filepath.Join(dir, "commandcenter.db"))
				if err != nil {
					t.Fatal(err)
				}
				for addr, fp := range tt.paired {
					if _, err := st.AddPrinter(t.Context(), addr, fp, now); err != nil {
						t.Fatal(err)
					}
				}
				st.Close()
			}
			got, err := Discover(t.Context(), DiscoverOptions{DataDir: dir, Subnet: "127.0.0.1/32", Ports: strings.Join(ports, ","),
				Rate: MaxDiscoverRate, Timeout: 5 * time.Second, Pending: tt.pending, Confirm: tt.confirm, Now: func() time.Time { return now }})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Discover: %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			states := map[string]DiscoveredState{}
			for _, d := range got {
				states[d.Address] = d.State
				if want := map[string]deviceapi.Fingerprint{a: pinA, b: pinB}[d.Address]; d.Fingerprint != want {
					t.Errorf("%s: fingerprint %s, want %s", d.Address, d.Fingerprint, want)
				}
				if d.Identity.Model == "" || d.Identity.SerialNumber == "" {
					t.Errorf("%s: identity %+v, want its model and serial number", d.Address, d.Identity)
				}
			}
			if diff := cmp.Diff(tt.want, states); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
			db := filepath.Join(dir, "commandcenter.db")
			if tt.wantPins == nil && tt.wantPend == nil && tt.confirm == nil {
				if _, err := os.Stat(db); err == nil {
					t.Error("a scan alone created the database")
				}
				return
			}
			st, err := commandcenter.Open(t.Context(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ps, err := st.Printers(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var pins []string
			for _, p := range ps {
				pins = append(pins, p.Address)
				if p.Address == a && tt.paired[a] != "" && p.Fingerprint != tt.paired[a] {
					t.Errorf("pin of %s changed by discovery to %s", a, p.Fingerprint)
				}
			}
			pend, err := st.PendingPrinters(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var pending []string
			for _, p := range pend {
				pending = append(pending, p.Address)
			}
			if diff := cmp.Diff(tt.wantPins, pins); diff != "" {
				t.Errorf("pinned (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPend, pending); diff != "" {
				t.Errorf("pending (-want +got):\n%s", diff)
			}
		})
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Discover(cancelled, DiscoverOptions{DataDir: t.TempDir(), Subnet: "127.0.0.0/30", Ports: strings.Join(ports, ",")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Discover interrupted: %v, want context.Canceled", err)
	}
	for _, o := range []DiscoverOptions{
		{Subnet: "10.0.0.0/8"}, {Subnet: "printers"}, {Subnet: "127.0.0.1/32", Ports: "0"},
	} {
		o.DataDir = t.TempDir()
		if _, err := Discover(context.Background(), o); err == nil {
			t.Errorf("Discover(%+v) succeeded", o)
		}
	}
}
