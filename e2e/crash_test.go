package e2e

import (
	"bufio"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // to audit the stores' files
)

// crashSeed replays a run of the crash test: its moments of SIGKILL come
// from a random source with this seed.
var crashSeed = flag.Uint64("seed", 0, "seed of the crash test's random moments (default: $FUSIONFLEET_CRASH_SEED, else from the clock)")

// seed returns the crash test's seed: the -seed flag, else
// $FUSIONFLEET_CRASH_SEED, else one from the clock. It logs the seed at the
// start and again if the test fails, with how to replay it.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := *crashSeed
	if s == 0 {
		if env := os.Getenv("FUSIONFLEET_CRASH_SEED"); env != "" {
			var err error
			if s, err = strconv.ParseUint(env, 10, 64); err != nil {
				t.Fatalf("FUSIONFLEET_CRASH_SEED=%q: %v", env, err)
			}
		}
	}
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	replay := fmt.Sprintf("seed %d (replay with: go test ./e2e -run %s -seed %d)", s, t.Name(), s)
	t.Log(replay)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(replay)
		}
	})
	return s
}

// proc is a fusionfleet process of a test.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	out   *strings.Builder
}

// startProc runs the binary with args and collects its stdout lines.
func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HTTPS_PROXY=", "HTTP_PROXY=", "NO_PROXY=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1024), out: &strings.Builder{}}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
		close(p.lines)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// waitLine returns the first line matching re within 60 s.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s exited before printing %s; stderr:\n%s", p.cmd.Args[1], re, p.out)
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("%s printed no %s in 60s", p.cmd.Args[1], re)
		}
	}
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

func (p *proc) interrupt(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30s of Ctrl-C", p.cmd.Args[1])
	}
}

var (
	reCloud   = regexp.MustCompile(`^cloud: (\S+)`)
	reCA      = regexp.MustCompile(`^ca: (\S+)`)
	reToken   = regexp.MustCompile(`^enrolment token .*: (\S+)$`)
	rePrinter = regexp.MustCompile(`^printer: https://(\S+) fingerprint`)
	reCC      = regexp.MustCompile(`^commandcenter: (\S+)`)
)

// The delivery promise under crashes (issue 4's proof, and the skeleton's
// "nothing lost, nothing twice"): the Command Center is killed with SIGKILL
// at random moments 20 times while printers produce data and the cloud goes
// down and up; afterwards the cloud holds every record of the gateway exactly
// once — every gateway sequence number, and every printer event once.
func TestCrashSafeDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts processes for about a minute")
	}
	t.Parallel() // each runs its own processes on ports of their own
	bin := buildBinary(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(seed(t), 7))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cloudAddr := ln.Addr().String()
	ln.Close()
	startCloud := func() *proc {
		c := startProc(t, bin, "cloud", "-data", filepath.Join(dir, "cloud"), "-listen", cloudAddr, "-hosts", "127.0.0.1", "-log-level", "error")
		c.waitLine(t, reCloud)
		return c
	}
	cloud := startCloud()
	ca := cloud.waitLine(t, reCA)[1]
	token := cloud.waitLine(t, reToken)[1]
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}

	// The operator pairs the Command Center at the printers by its fingerprint.
	fp, err := exec.Command(bin, "commandcenter", "fingerprint", "-data", filepath.Join(dir, "cc")).Output()
	if err != nil {
		t.Fatalf("commandcenter fingerprint: %v", err)
	}
	printers := startProc(t, bin, "printer", "-count", "3", "-listen", "127.0.0.1:0", "-speed", "120",
		"-data", filepath.Join(dir, "printers"), "-log-level", "error", "-pair", strings.TrimSpace(string(fp)))
	ccArgs := []string{"commandcenter", "-data", filepath.Join(dir, "cc"), "-cloud", "https://" + cloudAddr,
		"-ca-file", ca, "-enrol-token-file", tokenFile, "-trust-new-printers", "-poll", "100ms", "-log-level", "error",
		"-bulk-interval", "1s", "-uplink-rate", "8000000", "-ui-ports", "0"}
	for range 3 {
		ccArgs = append(ccArgs, "-printer", printers.waitLine(t, rePrinter)[1])
	}

	cc := startProc(t, bin, ccArgs...)
	ui := cc.waitLine(t, reCC)[1]
	for i := range 20 {
		// A random moment of the real processes' work, from the seed.
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		cc.kill() // SIGKILL: no chance to clean up
		if i%5 == 2 {
			cloud.interrupt(t) // the cloud goes away for a while
		}
		if i%5 == 3 {
			cloud = startCloud()
		}
		cc = startProc(t, bin, ccArgs...)
		ui = cc.waitLine(t, reCC)[1]
	}
	if cloud.cmd.ProcessState != nil {
		cloud = startCloud()
	}

	db := openDB(t, filepath.Join(dir, "cloud", "cloud.db"))
	next, kept := auditDelivery(t, ui, cc, printers, filepath.Join(dir, "cc"), db, 3, func() { cloud.interrupt(t) })
	t.Logf("%d records (%d kept in the outbox at the end), 20 SIGKILLs, 4 cloud outages", next-1, len(kept))
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
