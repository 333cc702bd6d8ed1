// Package chaosproxy is a fault-injecting TCP proxy for tests: it listens on
// loopback, forwards every connection to one target, and spoils some of them
// — added latency, connections dropped or reset part-way, half-open
// connections, bytes that trickle, partitions that heal — by a schedule
// drawn from a seed, so that a failing run can be replayed with the same
// seed. Only tests link it.
package chaosproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
)

// Fault is what the proxy does to one connection.
type Fault uint8

const (
	// Pass forwards the connection untouched.
	Pass Fault = iota
	// Latency delays every chunk of bytes, both ways, by Options.Latency.
	Latency
	// Drop closes both sides (FIN) after a drawn number of bytes.
	Drop
	// Reset resets both sides (RST) after a drawn number of bytes.
	Reset
	// Blackhole accepts the connection and forwards nothing either way:
	// the client sees a half-open connection until it gives up.
	Blackhole
	// OneWay forwards the client's bytes to the target and never the
	// target's answer back.
	OneWay
	// Drip forwards both ways a few bytes at a time (Options.DripBytes,
	// Options.DripDelay apart).
	Drip
	// Partition cuts every open connection and refuses new ones for
	// Options.PartitionFor, then heals; the connection that drew it is the
	// first refused.
	Partition
)

// Faults lists every fault but Pass, the default of Options.Faults.
var Faults = []Fault{Latency, Drop, Reset, Blackhole, OneWay, Drip, Partition}

var faultNames = [...]string{"pass", "latency", "drop", "reset", "blackhole", "one-way", "drip", "partition"}

func (f Fault) String() string {
	if int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("fault(%d)", f)
}

// ParseFaults parses a comma-separated list of fault names ("reset,drip").
func ParseFaults(s string) ([]Fault, error) {
	var out []Fault
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		i := -1
		for j, n := range faultNames {
			if n == name {
				i = j
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("unknown fault %q (want one of %s)", name, strings.Join(faultNames[:], ", "))
		}
		out = append(out, Fault(i))
	}
	return out, nil
}

// Schedule draws the fault of each connection from a seed: connection n
// (counted from 0 in the order the proxy accepts them) gets the same Step
// in every run with the same seed, whatever the timing of the others.
type Schedule struct {
	Seed uint64
	// Rate is the share of connections that get a fault, 0..1.
	Rate float64
	// Faults are the faults drawn from, each as likely; empty means all.
	Faults []Fault
	// MaxAfter bounds the bytes a Drop or Reset lets through first; 0
	// means 4096.
	MaxAfter int
}

// Step is what the schedule does to one connection.
type Step struct {
	Fault Fault
	// After is how many bytes (both ways together) a Drop or Reset
	// forwards before it cuts.
	After int
}

func (s Step) String() string {
	if s.Fault == Drop || s.Fault == Reset {
		return fmt.Sprintf("%s after %d bytes", s.Fault, s.After)
	}
	return s.Fault.String()
}

// Step returns the step of connection n.
func (s Schedule) Step(n uint64) Step {
	rng := rand.New(rand.NewPCG(s.Seed, n))
	if rng.Float64() >= s.Rate {
		return Step{Fault: Pass}
	}
	faults := s.Faults
	if len(faults) == 0 {
		faults = Faults
	}
	maxAfter := s.MaxAfter
	if maxAfter <= 0 {
		maxAfter = 4096
	}
	return Step{Fault: faults[rng.IntN(len(faults))], After: rng.IntN(maxAfter)}
}

func (s Schedule) String() string {
	faults := s.Faults
	if len(faults) == 0 {
		faults = Faults
	}
	names := make([]string, len(faults))
	for i, f := range faults {
		names[i] = f.String()
	}
	return fmt.Sprintf("seed %d, rate %g, faults %s", s.Seed, s.Rate, strings.Join(names, ","))
}

// Options tune a Proxy; the zero value forwards every connection untouched.
type Options struct {
	Schedule Schedule
	// Latency is the delay of the Latency fault; 0 means 200 ms.
	Latency time.Duration
	// DripBytes and DripDelay shape the Drip fault; 0 means 16 bytes every
	// 20 ms.
	DripBytes int
	DripDelay time.Duration
	// PartitionFor is how long a drawn Partition lasts; 0 means 2 s.
	PartitionFor time.Duration
	// MaxConns bounds the connections open at once; more are reset at
	// once. 0 means 256.
	MaxConns int
	// Idle closes a connection that forwarded nothing either way for this
	// long, a blackholed one included; 0 means 2 minutes.
	Idle time.Duration
	// Logger receives the schedule and every fault applied; nil discards.
	Logger *slog.Logger
}

// Stats counts what a Proxy did.
type Stats struct {
	// Conns counts the accepted connections by the fault they got.
	Conns map[Fault]int
	// Refused counts the connections refused during partitions or over
	// MaxConns.
	Refused int
}

// Proxy forwards connections from a loopback listener to a target.
type Proxy struct {
	ln   net.Listener
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	target    string
	n         uint64
	conns     map[net.Conn]struct{}
	parted    bool
	calm      bool
	healTimer *time.Timer
	healed    chan struct{} // closed when the current partition heals
	stats     Stats
}

// New listens on a free loopback port for connections to forward to target
// (host:port). Run serves them.
func New(target string, opts Options) (*Proxy, error) {
	if opts.Latency <= 0 {
		opts.Latency = 200 * time.Millisecond
	}
	if opts.DripBytes <= 0 {
		opts.DripBytes = 16
	}
	if opts.DripDelay <= 0 {
		opts.DripDelay = 20 * time.Millisecond
	}
	if opts.PartitionFor <= 0 {
		opts.PartitionFor = 2 * time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 256
	}
	if opts.Idle <= 0 {
		opts.Idle = 2 * time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("chaos proxy: %w", err)
	}
	p := &Proxy{ln: ln, target: target, opts: opts, log: log.With("component", "chaosproxy"),
		conns: map[net.Conn]struct{}{}, healed: make(chan struct{}), stats: Stats{Conns: map[Fault]int{}}}
	close(p.healed)
	p.log.Info("chaos proxy", "listen", ln.Addr().String(), "schedule", opts.Schedule.String())
	if _, _, err := net.SplitHostPort(target); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chaos proxy: target: %w", err)
	}
	return p, nil
}

// Addr is the proxy's host:port on loopback.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Schedule returns the proxy's schedule, seed included.
func (p *Proxy) Schedule() Schedule { return p.opts.Schedule }

// Stats returns a copy of the proxy's counts.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Conns: make(map[Fault]int, len(p.stats.Conns)), Refused: p.stats.Refused}
	for f, n := range p.stats.Conns {
		s.Conns[f] = n
	}
	return s
}

// Run serves connections until ctx ends, then closes the listener and
// every connection and waits for their goroutines.
func (p *Proxy) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		p.ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		if p.healTimer != nil {
			p.healTimer.Stop()
		}
		p.mu.Unlock()
	})
	defer stop()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("chaos proxy: accept: %w", err)
		}
		wg.Go(func() { p.serve(ctx, c) })
	}
}

// Partition cuts every open connection and refuses new ones for d, then
// heals; a partition under way is extended to end no earlier.
func (p *Proxy) Partition(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.parted {
		p.parted = true
		p.healed = make(chan struct{})
		p.healTimer = time.AfterFunc(d, p.Heal)
		p.log.Info("partition", "for", d)
	} else {
		p.healTimer.Reset(d)
	}
	for c := range p.conns {
		reset(c)
	}
}

// SetTarget forwards later connections to target instead, and resets
// those open: another machine answers at the same address, the old one is
// gone.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
	for c := range p.conns {
		reset(c)
	}
	p.log.Info("new target", "target", target)
}

// SetCalm(true) heals a partition and lets every later connection pass
// untouched — for a test's start, while its parts connect, or its end,
// when what was delivered is counted — until SetCalm(false). Connections
// open keep their faults; calm or not, connection n is the schedule's
// step n.
func (p *Proxy) SetCalm(calm bool) {
	p.mu.Lock()
	p.calm = calm
	p.mu.Unlock()
	if calm {
		p.Heal()
	}
	p.log.Info("calm", "calm", calm)
}

// Heal ends a partition at once.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.parted {
		return
	}
	p.parted = false
	p.healTimer.Stop()
	close(p.healed)
	p.log.Info("partition healed")
}

// track adds c to the open connections; it reports false (and counts a
// refusal) during a partition or over MaxConns.
func (p *Proxy) track(c net.Conn) (ok bool, healed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parted || len(p.conns) >= p.opts.MaxConns {
		p.stats.Refused++
		return false, p.healed
	}
	p.conns[c] = struct{}{}
	return true, nil
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	p.mu.Lock()
	n := p.n
	p.n++
	calm, target := p.calm, p.target
	p.mu.Unlock()
	step := p.opts.Schedule.Step(n)
	if calm {
		step = Step{Fault: Pass}
	}
	if step.Fault == Partition {
		p.Partition(p.opts.PartitionFor)
	}
	ok, healed := p.track(c)
	if !ok {
		// A partition drops packets: the client hears nothing until it
		// heals, then the connection is gone.
		p.log.Debug("refused", "conn", n)
		select {
		case <-healed:
		case <-ctx.Done():
		case <-time.After(p.opts.Idle):
		}
		reset(c)
		return
	}
	defer p.untrack(c)
	p.mu.Lock()
	p.stats.Conns[step.Fault]++
	p.mu.Unlock()
	if step.Fault != Pass {
		p.log.Info("fault", "conn", n, "step", step.String())
	}

	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	t, err := d.DialContext(dctx, "tcp", target)
	cancel()
	if err != nil {
		p.log.Debug("dial target", "conn", n, "err", err)
		reset(c)
		return
	}
	defer t.Close()
	if ok, _ := p.track(t); !ok {
		reset(c)
		return
	}
	defer p.untrack(t)

	l := &link{p: p, step: step, client: c, target: t, active: make(chan struct{}, 1)}
	if step.Fault == Drop || step.Fault == Reset {
		l.budget = step.After
	}
	var wg sync.WaitGroup
	switch step.Fault {
	case Blackhole:
		// Nothing is forwarded; the client's bytes are read only to
		// notice when it gives up.
		wg.Go(func() { io.Copy(io.Discard, c) })
	case OneWay:
		// The target's answer is never read: the connection ends when
		// the client gives up.
		wg.Go(func() { l.pipe(t, c) })
	default:
		wg.Go(func() { l.pipe(t, c) })
		wg.Go(func() { l.pipe(c, t) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	idle := time.NewTimer(p.opts.Idle)
	defer idle.Stop()
	for {
		select {
		case <-done:
			return
		case <-l.active:
			idle.Reset(p.opts.Idle)
		case <-idle.C:
			reset(c)
			t.Close()
			<-done
			return
		case <-ctx.Done():
			c.Close()
			t.Close()
			<-done
			return
		}
	}
}

// link is one forwarded connection.
type link struct {
	p              *Proxy
	step           Step
	client, target net.Conn
	active         chan struct{} // a byte moved: the idle timer restarts

	mu     sync.Mutex
	budget int  // bytes a Drop or Reset still lets through
	cut    bool // the Drop or Reset happened
}

// take reserves up to n bytes of the budget; it returns how many may pass
// and whether the connection is to be cut after them.
func (l *link) take(n int) (int, bool) {
	if l.step.Fault != Drop && l.step.Fault != Reset {
		return n, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		return 0, true
	}
	if n < l.budget {
		l.budget -= n
		return n, false
	}
	n, l.budget, l.cut = l.budget, 0, true
	return n, true
}

// pipe copies src to dst as the step shapes it, until either side ends.
func (l *link) pipe(dst, src net.Conn) {
	size := 32 << 10
	if l.step.Fault == Drip {
		size = l.p.opts.DripBytes
	}
	buf := make([]byte, size)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case l.active <- struct{}{}:
			default:
			}
			switch l.step.Fault {
			case Latency:
				time.Sleep(l.p.opts.Latency)
			case Drip:
				time.Sleep(l.p.opts.DripDelay)
			}
			m, cut := l.take(n)
			if m > 0 {
				if _, werr := dst.Write(buf[:m]); werr != nil {
					l.closeBoth()
					return
				}
			}
			if cut {
				if l.step.Fault == Reset {
					reset(l.client)
					reset(l.target)
				} else {
					l.closeBoth()
				}
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Pass the half-close on: the other direction may still
				// have bytes to deliver.
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
					return
				}
			}
			l.closeBoth()
			return
		}
	}
}

func (l *link) closeBoth() {
	l.client.Close()
	l.target.Close()
}

// reset closes c with an RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
