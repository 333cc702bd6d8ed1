//go:build unix

package e2e

import (
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // to audit a store on PostgreSQL

	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// engineRounds sets how often each engine chaos test attacks. make test
// runs a small form; the README's long form gives more.
var engineRounds = flag.Int("engine-rounds", 0, "attacks of each engine chaos test (default: its small form)")

// engineOutage is the longest an engine chaos test leaves what it
// attacked down.
var engineOutage = flag.Duration("engine-outage", 3*time.Second, "longest outage of an engine chaos test's attack")

// outage is how long an attack leaves its victim down: a random moment
// up to -engine-outage.
func outage(rng *rand.Rand) time.Duration {
	return moment(rng, 200*time.Millisecond, max(*engineOutage, 300*time.Millisecond))
}

// schedule is an engine chaos test's random source, from its seed, and
// its number of attacks: -engine-rounds, else small. It logs what replays
// the run besides the seed.
func schedule(t *testing.T, small int) (*rand.Rand, int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed(t), 19))
	n := small
	if *engineRounds > 0 {
		n = *engineRounds
	}
	t.Logf("%d attacks, outages up to %v (replay with the seed and: -engine-rounds %d -engine-outage %v)", n, *engineOutage, n, *engineOutage)
	return rng, n
}

// moment is a random wait of the test's schedule, from its seed: between
// lo and hi.
func moment(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// cloudNode is a `fusionfleet cloud` process that a test kills and
// restarts with the same flags.
type cloudNode struct {
	t      *testing.T
	bin    string
	listen string // its address
	args   []string
	p      *proc
}

// startCloudNode starts a cloud node with its data in dir, listening on
// listen, with extra flags, and waits until it serves.
func startCloudNode(t *testing.T, bin, dir, listen string, extra ...string) *cloudNode {
	t.Helper()
	c := &cloudNode{t: t, bin: bin, listen: listen, args: append([]string{"cloud", "-data", dir, "-listen", listen, "-hosts", "127.0.0.1", "-log-level", "warn", "-max-record-ahead", "-1s"}, extra...)}
	c.start()
	return c
}

func (c *cloudNode) start() {
	c.t.Helper()
	c.p = startProc(c.t, c.bin, c.args...)
	p := c.p
	c.t.Cleanup(func() {
		p.kill()
		if c.t.Failed() || os.Getenv("CHAOSDEBUG") != "" {
			c.t.Logf("cloud node %s's log:\n%s", c.listen, p.out)
		}
	})
	c.p.waitLine(c.t, reCloud)
}

// kill ends the node with SIGKILL: it holds messages unacknowledged and
// uploads half-answered.
func (c *cloudNode) kill() { c.p.kill() }

// exited says whether the node stopped by itself, and its log if so: its
// stdout has ended. Lines it printed meanwhile are dropped.
func (c *cloudNode) exited() (string, bool) {
	for {
		select {
		case _, open := <-c.p.lines:
			if open {
				continue
			}
			c.p.cmd.Wait()
			return c.p.out.String(), true
		default:
			return "", false
		}
	}
}

// chaosSite is three virtual printers and a Command Center that uploads
// their records to a cloud URL.
type chaosSite struct {
	printers, cc *proc
	ui, ccDir    string
}

// startChaosSite enrols a Command Center with the token of the cloud
// (at cloudURL, its CA in ca) and pairs it with three printers that run
// fast.
func startChaosSite(t *testing.T, bin, dir, cloudURL, ca, token string) *chaosSite {
	t.Helper()
	s := &chaosSite{ccDir: filepath.Join(dir, "cc")}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	fp, err := exec.Command(bin, "commandcenter", "fingerprint", "-data", s.ccDir).Output()
	if err != nil {
		t.Fatalf("commandcenter fingerprint: %v", err)
	}
	s.printers = startProc(t, bin, "printer", "-count", "3", "-listen", "127.0.0.1:0", "-speed", "1200",
		"-data", filepath.Join(dir, "printers"), "-log-level", "error", "-pair", strings.TrimSpace(string(fp)))
	args := []string{"commandcenter", "-data", s.ccDir, "-cloud", cloudURL,
		"-ca-file", ca, "-enrol-token-file", tokenFile, "-trust-new-printers", "-poll", "100ms", "-log-level", "error",
		"-bulk-interval", "1s", "-uplink-rate", "8000000", "-ui-ports", "0"}
	for range 3 {
		args = append(args, "-printer", s.printers.waitLine(t, rePrinter)[1])
	}
	s.cc = startProc(t, bin, args...)
	s.ui = s.cc.waitLine(t, reCC)[1]
	return s
}

// audit checks the delivery promise against the cloud's store, then
// stops the clouds.
func (s *chaosSite) audit(t *testing.T, cloud *sql.DB, stopClouds func()) {
	t.Helper()
	next, kept := auditDelivery(t, s.ui, s.cc, s.printers, s.ccDir, cloud, 3, stopClouds)
	t.Logf("%d records (%d kept in the outbox at the end)", next-1, len(kept))
}

// openPostgres opens a store on PostgreSQL for the audit.
func openPostgres(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// stored counts the records of the gateway the cloud's store holds.
func stored(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM received) + (SELECT COUNT(*) FROM layers) + (SELECT COUNT(*) FROM logs)`).Scan(&n)
	if err != nil {
		t.Fatalf("count the stored records: %v", err)
	}
	return n
}

// progresses waits until the store holds more than before: ingest goes
// on while an engine is short of a node.
func progresses(t *testing.T, db *sql.DB, before int, while string) {
	t.Helper()
	err := wait.Until(60*time.Second, 100*time.Millisecond, func() error {
		if n := stored(t, db); n <= before {
			return fmt.Errorf("the store holds %d records, as many as before", n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ingest stopped while %s: %v", while, err)
	}
}

// mustRun fails the test if a cloud node stopped by itself.
func mustRun(t *testing.T, nodes ...*cloudNode) {
	t.Helper()
	for _, c := range nodes {
		if log, gone := c.exited(); gone {
			t.Fatalf("cloud node %s exited by itself:\n%s", c.listen, log)
		}
	}
}

// Two cloud nodes on one NATS and one PostgreSQL behind a front that
// sends each connection to the next node that answers: one of them, at
// random, is killed with SIGKILL mid-ingest and restarted a moment later
// while the other serves: the store grows meanwhile. Messages the killed
// node held come back to the consumer after the stream's ack wait.
func TestChaosCloudNodeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts cloud nodes for about a minute")
	}
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	rng, n := schedule(t, 2)
	nats := startNATS(t, 1)
	db := pgtest.FreshDB(t)
	engines := []string{"-nats", natsURLs(nats), "-db", db}

	addrs := freeAddrs(t, 2)
	first := startCloudNode(t, bin, filepath.Join(dir, "cloud0"), addrs[0], engines...)
	ca := first.p.waitLine(t, reCA)[1]
	token := first.p.waitLine(t, reToken)[1]
	// Nodes behind one name serve one certificate: the second starts with
	// the first one's.
	if err := os.CopyFS(filepath.Join(dir, "cloud1", "tls"), os.DirFS(filepath.Join(dir, "cloud0", "tls"))); err != nil {
		t.Fatal(err)
	}
	nodes := []*cloudNode{first, startCloudNode(t, bin, filepath.Join(dir, "cloud1"), addrs[1], engines...)}
	front := startFront(t, addrs...)
	site := startChaosSite(t, bin, dir, "https://"+front.addr(), ca, token)
	audit := openPostgres(t, db)

	for range n {
		time.Sleep(moment(rng, 500*time.Millisecond, 3*time.Second))
		i := rng.IntN(len(nodes))
		before := stored(t, audit)
		nodes[i].kill()
		time.Sleep(outage(rng))
		progresses(t, audit, before, "a cloud node was down")
		mustRun(t, nodes[1-i]) // the other serves on
		nodes[i].start()
	}
	site.audit(t, audit, func() {
		mustRun(t, nodes...)
		for _, c := range nodes {
			c.p.interrupt(t)
		}
	})
	t.Logf("%d cloud nodes killed and restarted", n)
}

// The external NATS server (one, with a file store) restarted under
// ingest: stopped cleanly or killed at random, and started again a moment
// later. The cloud reconnects; uploads are acknowledged to the Command
// Center only once JetStream has acknowledged their publish, so nothing
// is lost, and the stream's dedupe and the store's idempotence keep
// resends from counting twice.
func TestChaosNATSRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts NATS under ingest for about half a minute")
	}
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	rng, n := schedule(t, 3)
	nats := startNATS(t, 1)

	cloud := startCloudNode(t, bin, filepath.Join(dir, "cloud"), freeAddr(t), "-nats", natsURLs(nats))
	ca := cloud.p.waitLine(t, reCA)[1]
	token := cloud.p.waitLine(t, reToken)[1]
	site := startChaosSite(t, bin, dir, "https://"+cloud.listen, ca, token)

	for range n {
		time.Sleep(moment(rng, 500*time.Millisecond, 3*time.Second))
		sig := []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}[rng.IntN(2)]
		nats[0].stop(sig)
		time.Sleep(outage(rng))
		nats[0].restart()
		mustRun(t, cloud)
	}
	site.audit(t, openDB(t, filepath.Join(dir, "cloud", "cloud.db")), func() {
		mustRun(t, cloud)
		cloud.p.interrupt(t)
	})
	t.Logf("NATS restarted %d times", n)
}

// A three-node NATS cluster, the stream with three replicas: one node at
// random is killed with SIGKILL and restarted a moment later, while the
// two others keep a quorum, and in half the rounds the cloud node
// restarts meanwhile. Ingest goes on — the store grows while the node is
// down; the cloud's connection moves to a live node when its own dies.
func TestChaosNATSClusterNodeLost(t *testing.T) {
	if testing.Short() {
		t.Skip("kills NATS cluster nodes under ingest for about half a minute")
	}
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	rng, n := schedule(t, 2)
	nats := startNATS(t, 3)

	cloud := startCloudNode(t, bin, filepath.Join(dir, "cloud"), freeAddr(t), "-nats", natsURLs(nats), "-replicas", "3")
	ca := cloud.p.waitLine(t, reCA)[1]
	token := cloud.p.waitLine(t, reToken)[1]
	site := startChaosSite(t, bin, dir, "https://"+cloud.listen, ca, token)
	audit := openDB(t, filepath.Join(dir, "cloud", "cloud.db"))

	for range n {
		time.Sleep(moment(rng, 500*time.Millisecond, 3*time.Second))
		victim := nats[rng.IntN(len(nats))]
		before := stored(t, audit)
		victim.stop(syscall.SIGKILL)
		if rng.IntN(2) == 0 {
			// The cloud node restarts too while the cluster is short
			// of a node: it opens the stream on the two left.
			mustRun(t, cloud)
			cloud.p.interrupt(t)
			cloud.start()
		}
		time.Sleep(outage(rng))
		progresses(t, audit, before, "a NATS node was down")
		victim.restart()
		mustRun(t, cloud)
	}
	site.audit(t, audit, func() {
		mustRun(t, cloud)
		cloud.p.interrupt(t)
	})
	t.Logf("%d NATS cluster nodes killed and restarted", n)
}

// PostgreSQL restarted under ingest — a clean fast shutdown or an
// immediate one (recovery on start, as after a crash), at random: the
// writer's transactions fail while it is down, their messages come back
// from the stream, and the uploads the cloud cannot check meanwhile are
// retried by the Command Center.
func TestChaosPostgresRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts PostgreSQL under ingest for about half a minute")
	}
	t.Parallel()
	bin := buildBinary(t)
	dir := t.TempDir()
	rng, n := schedule(t, 3)
	pg := startPostgres(t)

	cloud := startCloudNode(t, bin, filepath.Join(dir, "cloud"), freeAddr(t), "-db", pg.url())
	ca := cloud.p.waitLine(t, reCA)[1]
	token := cloud.p.waitLine(t, reToken)[1]
	site := startChaosSite(t, bin, dir, "https://"+cloud.listen, ca, token)

	for range n {
		time.Sleep(moment(rng, 500*time.Millisecond, 3*time.Second))
		pg.stop([]string{"fast", "immediate"}[rng.IntN(2)])
		time.Sleep(outage(rng))
		pg.start()
		mustRun(t, cloud)
	}
	site.audit(t, openPostgres(t, pg.url()), func() {
		mustRun(t, cloud)
		cloud.p.interrupt(t)
	})
	t.Logf("PostgreSQL restarted %d times", n)
}
