package e2e

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/chaosproxy"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// chaosLong runs the chaos tests' long forms: more rounds of faults and
// kills. make test runs the short forms.
var chaosLong = flag.Bool("chaos.long", false, "run the chaos tests' long forms (minutes each)")

// chaosRounds is n in the short form and long in the long form.
func chaosRounds(n, long int) int {
	if *chaosLong {
		return long
	}
	return n
}

// chaosProxies start fault-injecting proxies on loopback for a test, each
// with a schedule of its own drawn from the test's seed.
type chaosProxies struct {
	t    *testing.T
	seed uint64
	// startCalm starts each proxy calm, until storm.
	startCalm bool
	opts      chaosproxy.Options
	all       []*chaosproxy.Proxy
	byAddr    map[string]*chaosproxy.Proxy // by the address it forwards to
}

func newChaosProxies(t *testing.T, seed uint64, opts chaosproxy.Options) *chaosProxies {
	return &chaosProxies{t: t, seed: seed, opts: opts, byAddr: map[string]*chaosproxy.Proxy{}}
}

// via starts a proxy to addr and returns its address; its schedule's seed
// is the test's plus its number, logged.
func (c *chaosProxies) via(addr string) string {
	c.t.Helper()
	opts := c.opts
	opts.Schedule.Seed = c.seed + uint64(len(c.all))
	p, err := chaosproxy.New(addr, opts)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	c.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			c.t.Errorf("proxy to %s: %v", addr, err)
		}
	})
	p.SetCalm(c.startCalm)
	c.t.Logf("proxy %d to %s: %s", len(c.all), addr, p.Schedule())
	c.all = append(c.all, p)
	c.byAddr[addr] = p
	return p.Addr()
}

// storm lets the proxies spoil connections by their schedules.
func (c *chaosProxies) storm() {
	for _, p := range c.all {
		p.SetCalm(false)
	}
}

// calm lets every later connection of every proxy pass, and logs what the
// proxies did.
func (c *chaosProxies) calm() {
	for i, p := range c.all {
		p.SetCalm(true)
		s := p.Stats()
		var parts []string
		for f := chaosproxy.Pass; f <= chaosproxy.Partition; f++ {
			if n := s.Conns[f]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", f, n))
			}
		}
		c.t.Logf("proxy %d: connections %s; refused %d", i, strings.Join(parts, ", "), s.Refused)
	}
}

// The delivery promise under a bad network: every connection between the
// Command Center and the printers, and between it and the cloud, passes a
// proxy that delays, drops, resets, half-opens or drips a share of them and
// partitions now one link, now another, each partition healing; the
// Command Center is killed once in the middle. Afterwards the cloud holds
// every record exactly once (the audit of TestCrashSafeDelivery).
func TestChaosNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes behind faulty links for about half a minute")
	}
	t.Parallel()
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 19))
	proxies := newChaosProxies(t, s, chaosproxy.Options{
		Schedule: chaosproxy.Schedule{Rate: 0.3},
		Latency:  300 * time.Millisecond,
		// An upload of a few hundred kilobytes drips for seconds.
		DripBytes: 1024, DripDelay: 5 * time.Millisecond,
		PartitionFor: 3 * time.Second,
		// A blackholed connection is held longer than any client waits.
		Idle: time.Minute,
	})
	// The fleet starts on calm links (a start behind faults is
	// site's TestStartSurvivesResets); then the storm.
	proxies.startCalm = true
	f := startFleet(t, fleetOptions{via: proxies.via})
	proxies.storm()
	rounds := chaosRounds(8, 120)
	kills := 0
	for i := range rounds {
		time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
		// A partition of one link, healing after 1 to 6 s.
		p := proxies.all[rng.IntN(len(proxies.all))]
		p.Partition(time.Duration(1000+rng.IntN(5000)) * time.Millisecond)
		if i%8 == 4 {
			f.cc.kill()
			f.startCC()
			kills++
		}
	}
	proxies.calm()
	records, kept := f.audit(3)
	t.Logf("%d records (%d kept in the outbox at the end), %d rounds of partitions, %d SIGKILLs", records, kept, rounds, kills)
}

// ccPrinters reads the Command Center's printers from its local API.
func (f *procFleet) ccPrinters() ([]ccPrinter, error) {
	_, ps, err := ccSnapshot(f.ui)
	return ps, err
}

// A printer replaced by another machine at the same address, with a
// certificate of its own (R-SEC-9): the Command Center refuses it, says
// so on its printers API, and reads nothing from it, though the new
// machine has paired the Command Center and would serve it everything.
// Then the operator confirms the new certificate at the next start: the
// replacement is collected as a new printer. The cloud ends up with the
// three first printers' records and the replacement's exactly once, and
// nothing of the replacement from before the confirmation.
func TestChaosPrinterReplaced(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes for about twenty seconds")
	}
	t.Parallel()
	s := seed(t)
	proxies := newChaosProxies(t, s, chaosproxy.Options{}) // faultless: only the machine behind changes
	f := startFleet(t, fleetOptions{via: proxies.via})
	err := wait.Until(60*time.Second, 200*time.Millisecond, func() error {
		ps, err := f.ccPrinters()
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.State != "ok" {
				return fmt.Errorf("printer %s: %s %s", p.Address, p.State, p.LastError)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The replacement: another printer, paired with this Command Center,
	// with a certificate and an ID of its own.
	repl := startProc(t, f.bin, "printer", "-listen", "127.0.0.1:0", "-speed", "120", "-seed", "99",
		"-name", "Replacement", "-data", filepath.Join(f.dir, "replacement"), "-log-level", "error", "-pair", f.ccFP)
	proxies.byAddr[f.real[0]].SetTarget(repl.waitLine(t, rePrinter)[1])
	var refused ccPrinter
	err = wait.Until(60*time.Second, 200*time.Millisecond, func() error {
		ps, err := f.ccPrinters()
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Address == f.printerAt[0] {
				refused = p
				if p.State != "certificate changed" {
					return fmt.Errorf("printer %s: %s %s", p.Address, p.State, p.LastError)
				}
				return nil
			}
		}
		return fmt.Errorf("printer %s not listed", f.printerAt[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(refused.LastError, "no longer presents the certificate pinned") {
		t.Errorf("the refusal says %q; want what changed and what to do", refused.LastError)
	}
	// The other printers go on; give the replacement time to be read,
	// were it read, and its records time to reach the cloud.
	time.Sleep(3 * time.Second)
	cloudDB := openDB(t, filepath.Join(f.dir, "cloud", "cloud.db"))
	cloudPrinters := func() []string {
		t.Helper()
		var names []string
		rows, err := cloudDB.Query(`SELECT name FROM printers ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return names
	}
	if names := cloudPrinters(); len(names) != 3 || slices.Contains(names, "Replacement") {
		t.Errorf("before the confirmation, the cloud knows printers %q; want the three first ones", names)
	}

	// The operator compares the new fingerprint with the printer's panel
	// and confirms it at the next start.
	f.cc.interrupt(t)
	f.startCCAnswering("y\n")
	err = wait.Until(60*time.Second, 200*time.Millisecond, func() error {
		ps, err := f.ccPrinters()
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Address == f.printerAt[0] && p.State != "ok" {
				return fmt.Errorf("printer %s after the confirmation: %s %s", p.Address, p.State, p.LastError)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.audit(4)
	if names := cloudPrinters(); len(names) != 4 || !slices.Contains(names, "Replacement") {
		t.Errorf("after the confirmation, the cloud knows printers %q; want the replacement too", names)
	}
}
