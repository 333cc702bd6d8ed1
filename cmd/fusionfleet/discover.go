package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/site"
)

// runDiscover is `fusionfleet commandcenter discover`: it scans the subnet
// the operator names for printers' device APIs and offers those found for
// pairing, with their certificates' fingerprints.
func runDiscover(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("commandcenter discover", "Scan a subnet for printers' device APIs: only the subnet named (an IPv4 /16 at most)\n"+
		"and the ports named, at a limited rate, with the progress on stderr. Each printer found\n"+
		"is listed with its model, serial number and certificate fingerprint (SHA-256), read\n"+
		"without pairing, and whether this Command Center paired it already. Printers not paired\n"+
		"yet are offered for pairing: on a terminal, one question each (compare the fingerprint\n"+
		"with the printer's panel); with -pair, all are kept as pending pairings, which an\n"+
		"operator confirms on the local UI's Printers page. A running Command Center polls a\n"+
		"printer pinned here within one poll interval.", e)
	config := fs.String("config", envDefault(e, "FUSIONFLEET_CC_CONFIG", ""), "the Command Center's config `file` (docs/config.md), for its data directory")
	data := fs.String("data", envDefault(e, "FUSIONFLEET_CC_DATA", defaultDataDir(e, "commandcenter")), "data `directory` of the Command Center")
	subnet := fs.String("subnet", "", "the `CIDR` to scan, as 192.168.10.0/24 (required; at most a /16)")
	ports := fs.String("port", strconv.Itoa(site.DefaultDiscoverPort), "device API `ports` to try on each host, comma-separated")
	rate := fs.String("rate", strconv.Itoa(site.DefaultDiscoverRate)+"/s", "connections a second, at most "+strconv.Itoa(site.MaxDiscoverRate)+" (`R/s`)")
	timeout := fs.Duration("timeout", site.DefaultDiscoverTimeout, "how long one host may take to answer")
	pending := fs.Bool("pair", false, "keep every printer not paired yet as a pending pairing for the local UI, without asking")
	if err := parse(fs, args, e); err != nil {
		return err
	}
	if _, err := loadConfig(fs, *config, e.getenv); err != nil {
		return err
	}
	if *subnet == "" {
		fmt.Fprintln(e.stderr, "fusionfleet commandcenter discover: -subnet is required")
		fs.Usage()
		return errUsage
	}
	perSecond, err := parseRate(*rate)
	if err != nil {
		return fmt.Errorf("discover: -rate: %w", err)
	}
	if *timeout <= 0 {
		return fmt.Errorf("discover: -timeout %v: want a positive duration", *timeout)
	}
	bar := &discoverProgress{w: e.stderr, tty: isTerminal(e.stderr)}
	opts := site.DiscoverOptions{DataDir: *data, Subnet: *subnet, Ports: *ports, Rate: perSecond, Timeout: *timeout,
		Progress: bar.update, Pending: *pending}
	if !*pending && isTerminal(e.stdin) {
		in := bufio.NewReader(e.stdin)
		opts.Confirm = func(f site.Discovered) (bool, error) {
			fmt.Fprintf(e.stdout, "printer %s (%s, serial %s) presents certificate SHA-256 %s\n",
				f.Address, orDash(f.Identity.Model), orDash(f.Identity.SerialNumber), f.Fingerprint)
			fmt.Fprint(e.stdout, "Compare it with the fingerprint on the printer's panel. Pin it? [y/N] ")
			answer, err := in.ReadString('\n')
			if err != nil && err != io.EOF {
				return false, err
			}
			a := strings.ToLower(strings.TrimSpace(answer))
			return a == "y" || a == "yes", nil
		}
	}
	fmt.Fprintf(e.stderr, "discover: scanning %s on port %s at %g connections a second\n", *subnet, *ports, perSecond)
	found, err := site.Discover(ctx, opts)
	bar.finish()
	if err != nil && len(found) == 0 {
		return err
	}
	writeDiscovered(e.stdout, found) // what was found before a failure too
	return err
}

// parseRate parses -rate: "50/s" or "50", connections a second.
func parseRate(s string) (float64, error) {
	n, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "/s"), 64)
	if err != nil || n <= 0 || n > site.MaxDiscoverRate {
		return 0, fmt.Errorf("%q: want connections a second, as 50/s, more than 0 and at most %d", s, site.MaxDiscoverRate)
	}
	return n, nil
}

// writeDiscovered prints the printers found as a table, and what to do
// with the pending ones.
func writeDiscovered(w io.Writer, found []site.Discovered) {
	if len(found) == 0 {
		fmt.Fprintln(w, "no printers found")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tMODEL\tSERIAL\tFINGERPRINT (SHA-256)\tSTATE")
	pendingN := 0
	for _, d := range found {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Address, orDash(d.Identity.Model), orDash(d.Identity.SerialNumber), d.Fingerprint, d.State)
		if d.State == site.DiscoveredPending {
			pendingN++
		}
	}
	tw.Flush()
	if pendingN > 0 {
		fmt.Fprintf(w, "pending pairings: %d; confirm each on the local UI's Printers page after comparing its fingerprint with the printer's panel\n", pendingN)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// discoverProgress draws the scan's progress on stderr: on a terminal a
// bar redrawn as it moves, otherwise a line at every tenth.
type discoverProgress struct {
	w   io.Writer
	tty bool

	mu         sync.Mutex
	drawn      string
	lastTenth  int
	done, all  int
	lastRedraw time.Time
}

func (p *discoverProgress) update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.all = done, total
	line := fmt.Sprintf("discover: %s %d/%d addresses", progressBar(float64(done)/float64(max(total, 1)), 30), done, total)
	if p.tty {
		if line != p.drawn && (done == total || time.Since(p.lastRedraw) > 100*time.Millisecond) {
			fmt.Fprintf(p.w, "\r%s", line)
			p.drawn, p.lastRedraw = line, time.Now()
		}
		return
	}
	if tenth := done * 10 / max(total, 1); tenth > p.lastTenth {
		p.lastTenth = tenth
		fmt.Fprintln(p.w, line)
	}
}

func (p *discoverProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn != "" {
		fmt.Fprintln(p.w)
	}
}
