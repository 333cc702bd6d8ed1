package sitebench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/benchrun"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/cloud"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/site"
)

// UplinkBytes measures the uplink of a 10-printer site in
// production on the socket: ten virtual printers, a real Command Center
// (site.New: poller, store, uploader, update mirror, bandwidth cap, all at
// their defaults) and a real cloud node, on one clock running 60 times
// faster than real time, with a TCP proxy between the Command Center and
// the cloud that counts every byte both ways (TLS handshakes, headers,
// compressed bodies, acknowledgements, the mirror's fetches). Every record
// kind the printers produce in production goes: identity, status, events,
// jobs, parts, layers, counters, consumables, gaps (device logs go only
// when a diagnostic asks for them).
//
// The first o.Warmup simulated (half an hour by default: enrolment, first
// contact, the mirror's first sync) is not counted; then o.Hours simulated
// hours are (3 by default: three minutes of wall time). Reported: bytes
// per printer-hour, the site's average bit/s and its share of the 25
// kbit/s budget, and connections (uploads and mirror fetches) per hour.
func UplinkBytes(b benchrun.B, o UplinkOptions) {
	const (
		printers = 10
		speed    = 60
	)
	warmup := cmp.Or(o.Warmup, 30*time.Minute)
	hours := cmp.Or(o.Hours, 3.0)
	delay := o.PriorityDelay
	for b.Loop() {
		dir := b.TempDir()
		ctx := b.Context()
		clk := clock.NewScaled(speed)
		cloudNode, err := cloud.New(ctx, cloud.Options{DataDir: filepath.Join(dir, "cloud"), Hosts: []string{"127.0.0.1"},
			Clock: clk, Logger: discardLogger()})
		if err != nil {
			b.Fatal(err)
		}
		goRun(b, cloudNode.Run)
		_, _, token, err := cloudNode.DemoTenant(ctx)
		if err != nil {
			b.Fatal(err)
		}
		proxy := startCountingProxy(b, cloudNode.URL()[len("https://"):])

		ccDir := filepath.Join(dir, "cc")
		var addrs []string
		for i := range printers {
			addrs = append(addrs, servePrinter(b, printer.New(printer.Options{Name: fmt.Sprintf("3DP %d", i+1), Seed: int64(i + 1), Clock: clk}),
				ccFingerprint(b, ccDir)))
		}
		cc, err := site.New(ctx, site.Options{
			DataDir: ccDir, CloudURL: "https://" + proxy.addr(), RootCAs: cloudNode.RootCAs(), EnrolToken: token,
			Name: "bench", Printers: addrs, TrustNewPrinters: true,
			// The mirror's timer runs in real time; the rest follows clk.
			UpdateInterval: site.DefaultUpdateInterval / speed, PriorityDelay: delay,
			Clock: clk, Logger: discardLogger(),
		})
		if err != nil {
			b.Fatal(err)
		}
		ccRun := goRun(b, cc.Run)

		time.Sleep(clock.Wall(clk, warmup))
		bytes0, conns0, sim0 := proxy.bytes.Load(), proxy.conns.Load(), clk.Now()
		time.Sleep(clock.Wall(clk, time.Duration(hours*float64(time.Hour))))
		bytes, conns, sim := proxy.bytes.Load()-bytes0, proxy.conns.Load()-conns0, clk.Now().Sub(sim0)
		pending, err := cc.Store().Outbox().PendingCount(ctx)
		if err != nil {
			b.Fatal(err)
		}
		ccRun.Stop()
		simHours := sim.Hours()
		bps := float64(bytes) * 8 / sim.Seconds()
		b.Logf("%d printers, %.2f simulated hours: %d bytes on the socket in %d connections, %d records still pending",
			printers, simHours, bytes, conns, pending)
		b.ReportMetric(float64(bytes)/printers/simHours, "bytes/printer-hour")
		b.ReportMetric(bps, "site-bit/s")
		b.ReportMetric(100*bps/25000, "%-of-25kbit/s")
		b.ReportMetric(float64(conns)/simHours, "connections/h")
	}
}

// UplinkOptions size UplinkBytes; the zero value is the benchmark's.
type UplinkOptions struct {
	Hours  float64       // simulated hours counted
	Warmup time.Duration // simulated time before them, not counted
	// PriorityDelay is the Command Center's, 0 for its default.
	PriorityDelay time.Duration
}

// countingProxy forwards TCP connections to a target and counts the bytes
// both ways.
type countingProxy struct {
	ln           net.Listener
	bytes, conns atomic.Int64
}

func startCountingProxy(t benchrun.B, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			wg.Go(func() { p.forward(c, target) })
		}
	})
	return p
}

func (p *countingProxy) addr() string { return p.ln.Addr().String() }

// forward copies c to and from a new connection to target until both ends
// are done.
func (p *countingProxy) forward(c net.Conn, target string) {
	defer c.Close()
	u, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(context.Background(), "tcp", target)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{})
	copyHalf := func(dst, src net.Conn) {
		n, err := io.Copy(dst, src)
		p.bytes.Add(n)
		if err == nil || errors.Is(err, net.ErrClosed) {
			// The source finished: pass the end on.
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
		}
	}
	go func() {
		copyHalf(u, c)
		close(done)
	}()
	copyHalf(c, u)
	<-done
}
