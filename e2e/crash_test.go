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
	return startProcInput(t, bin, "", args...)
}

// startProcInput is startProc with input on the process's stdin.
func startProcInput(t *testing.T, bin, input string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(input)
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
// at random moments 20 times (200 with -chaos.long) while printers produce data and the cloud goes
// down and up; afterwards the cloud holds every record of the gateway exactly
// once — every gateway sequence number, and every printer event once.
func TestCrashSafeDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts processes for about a minute")
	}
	t.Parallel() // each runs its own processes on ports of their own
	rng := rand.New(rand.NewPCG(seed(t), 7))
	f := startFleet(t, fleetOptions{})
	kills := chaosRounds(20, 200)
	for i := range kills {
		// A random moment of the real processes' work, from the seed.
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		f.cc.kill() // SIGKILL: no chance to clean up
		if i%5 == 2 {
			f.cloud.interrupt(t) // the cloud goes away for a while
		}
		if i%5 == 3 {
			f.startCloud()
		}
		f.startCC()
	}
	records, kept := f.audit(3)
	t.Logf("%d records (%d kept in the outbox at the end), %d SIGKILLs, %d cloud outages", records, kept, kills, kills/5)
}

// fleetOptions shape a fleet of processes.
type fleetOptions struct {
	// via, if set, returns the address the Command Center is to use to
	// reach addr (the cloud's, or a printer's): a proxy's.
	via func(addr string) string
	// ccArgs are extra flags of the Command Center.
	ccArgs []string
	// cloudArgs are extra flags of the cloud, from its first start.
	cloudArgs []string
}

// procFleet is a cloud, three virtual printers and a Command Center, each a
// process of the built binary, in a directory of their own.
type procFleet struct {
	t         *testing.T
	bin, dir  string
	cloudAddr string
	ca        string // the cloud's CA certificate file
	cloud     *proc
	printers  *proc
	printerAt []string // the printers' addresses as the Command Center uses them
	real      []string // and as they listen
	ccFP      string   // the Command Center's fingerprint, which the printers paired
	cc        *proc
	ccArgs    []string
	cloudArgs []string // extra flags of the cloud, for its next start
	ui        string   // the Command Center's local UI
}

// startFleet starts the cloud, pairs three printers with the Command
// Center and starts it.
func startFleet(t *testing.T, opts fleetOptions) *procFleet {
	t.Helper()
	via := opts.via
	if via == nil {
		via = func(addr string) string { return addr }
	}
	f := &procFleet{t: t, bin: buildBinary(t), dir: t.TempDir(), cloudArgs: opts.cloudArgs}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.cloudAddr = ln.Addr().String()
	ln.Close()
	f.startCloud()
	ca := f.cloud.waitLine(t, reCA)[1]
	f.ca = ca
	token := f.cloud.waitLine(t, reToken)[1]
	tokenFile := filepath.Join(f.dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}

	// The operator pairs the Command Center at the printers by its fingerprint.
	fp, err := exec.Command(f.bin, "commandcenter", "fingerprint", "-data", filepath.Join(f.dir, "cc")).Output()
	if err != nil {
		t.Fatalf("commandcenter fingerprint: %v", err)
	}
	f.ccFP = strings.TrimSpace(string(fp))
	f.printers = startProc(t, f.bin, "printer", "-count", "3", "-listen", "127.0.0.1:0", "-speed", "120",
		"-data", filepath.Join(f.dir, "printers"), "-log-level", "error", "-pair", f.ccFP)
	f.ccArgs = []string{"commandcenter", "-data", filepath.Join(f.dir, "cc"), "-cloud", "https://" + via(f.cloudAddr),
		"-ca-file", ca, "-enrol-token-file", tokenFile, "-trust-new-printers", "-poll", "100ms", "-log-level", "error",
		"-bulk-interval", "1s", "-uplink-rate", "8000000", "-ui-ports", "0"}
	f.ccArgs = append(f.ccArgs, opts.ccArgs...)
	for range 3 {
		real := f.printers.waitLine(t, rePrinter)[1]
		addr := via(real)
		f.real = append(f.real, real)
		f.printerAt = append(f.printerAt, addr)
		f.ccArgs = append(f.ccArgs, "-printer", addr)
	}
	f.startCC()
	return f
}

// startCloud starts the cloud on the fleet's cloud address and data.
func (f *procFleet) startCloud() {
	f.t.Helper()
	args := []string{"cloud", "-data", filepath.Join(f.dir, "cloud"), "-listen", f.cloudAddr,
		"-hosts", "127.0.0.1", "-log-level", "error"}
	f.cloud = startProc(f.t, f.bin, append(args, f.cloudArgs...)...)
	f.cloud.waitLine(f.t, reCloud)
}

// startCC starts the Command Center and waits for its local UI.
func (f *procFleet) startCC() {
	f.t.Helper()
	f.startCCAnswering("")
}

// startCCAnswering starts the Command Center with answer on its stdin, as
// an operator would type it at its questions.
func (f *procFleet) startCCAnswering(answer string) {
	f.t.Helper()
	f.cc = startProcInput(f.t, f.bin, answer, f.ccArgs...)
	f.ui = f.cc.waitLine(f.t, reCC)[1]
}

// audit lets the Command Center's outbox drain (restarting the cloud and
// the Command Center if they are down), stops the processes and checks the
// delivery promise on their files (auditDelivery). It returns how many
// records the gateway numbered and how many the outbox kept.
func (f *procFleet) audit(printers int) (records, kept int) {
	t := f.t
	t.Helper()
	if f.cloud.cmd.ProcessState != nil {
		f.startCloud()
	}
	if f.cc.cmd.ProcessState != nil {
		f.startCC()
	}
	db := openDB(t, filepath.Join(f.dir, "cloud", "cloud.db"))
	next, inOutbox := auditDelivery(t, f.ui, f.cc, f.printers, filepath.Join(f.dir, "cc"), db, printers,
		func() { f.cloud.interrupt(t) })
	return int(next - 1), len(inOutbox)
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
