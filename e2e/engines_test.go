//go:build unix

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The engines under the cloud — NATS JetStream and PostgreSQL — as
// processes of a test's own, on loopback ports of their own, which it may
// kill and restart: the shared servers on their usual ports serve other
// tests at the same time and are never touched.

// engineBinary finds a server binary: on the PATH, else in one of dirs
// (globs). Without it the test skips loudly, and fails under CI=true,
// where .ci/run's machine has it.
func engineBinary(t *testing.T, name string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, name))
		if len(matches) > 0 {
			return matches[len(matches)-1] // the newest version of a sorted glob
		}
	}
	msg := fmt.Sprintf("ENGINE CHAOS TESTS NOT RUN: %s not found (on the PATH nor in %s)", name, strings.Join(dirs, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// engineProc is a server process that a test kills and restarts.
type engineProc struct {
	name string
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
}

// lockedBuffer collects a process's output, safe to read while it writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the start, which says why it failed
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startEngine(t *testing.T, name string, cmd *exec.Cmd) *engineProc {
	t.Helper()
	p := &engineProc{name: name, cmd: cmd, log: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.signal(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, p.log)
		}
	})
	return p
}

// signal sends sig and waits until the process has exited.
func (p *engineProc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// natsNode is one nats-server with JetStream on a file store.
type natsNode struct {
	t                        *testing.T
	bin, name, dir           string
	client, cluster, monitor string   // loopback addresses
	routes                   []string // the cluster's route URLs, this node's included
	proc                     *engineProc
}

// startNATS starts n nats-server processes, a cluster of them if n > 1
// (JetStream replicated over routes on loopback), and waits until
// JetStream is ready on each. They keep their stores in t.TempDir().
func startNATS(t *testing.T, n int) []*natsNode {
	t.Helper()
	bin := engineBinary(t, "nats-server", "/usr/sbin", "/usr/local/bin")
	dir := t.TempDir()
	nodes := make([]*natsNode, n)
	var routes []string
	addrs := freeAddrs(t, 3*n)
	for i := range nodes {
		nodes[i] = &natsNode{t: t, bin: bin, name: fmt.Sprintf("nats-%d", i), dir: filepath.Join(dir, fmt.Sprint(i)),
			client: addrs[3*i], monitor: addrs[3*i+1]}
		if n > 1 {
			nodes[i].cluster = addrs[3*i+2]
			routes = append(routes, "nats://"+nodes[i].cluster)
		}
	}
	for _, nd := range nodes {
		nd.routes = routes
		nd.start()
	}
	for _, nd := range nodes {
		nd.waitReady()
	}
	return nodes
}

// freeAddrs returns n distinct loopback addresses with ports free at the
// moment: each listener is held until all are chosen, so that the kernel
// cannot hand out one port twice.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// natsURLs is the comma-separated client URLs of nodes, as -nats takes them.
func natsURLs(nodes []*natsNode) string {
	var urls []string
	for _, nd := range nodes {
		urls = append(urls, "nats://"+nd.client)
	}
	return strings.Join(urls, ",")
}

func (nd *natsNode) start() {
	nd.t.Helper()
	host, port, _ := net.SplitHostPort(nd.client)
	_, mport, _ := net.SplitHostPort(nd.monitor)
	args := []string{"-n", nd.name, "-a", host, "-p", port, "-m", mport, "-js", "-sd", nd.dir}
	if nd.cluster != "" {
		args = append(args, "--cluster_name", "chaos", "--cluster", "nats://"+nd.cluster, "--routes", strings.Join(nd.routes, ","))
	}
	nd.proc = startEngine(nd.t, nd.name, exec.Command(nd.bin, args...))
}

// waitReady waits until the node answers its health check: JetStream
// enabled, and in a cluster a meta leader known and its streams current.
func (nd *natsNode) waitReady() {
	nd.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-nd.proc.done:
			nd.t.Fatalf("%s exited:\n%s", nd.name, nd.proc.log)
		default:
		}
		err := nd.healthy()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			nd.t.Fatalf("%s not ready after 60s: %v\n%s", nd.name, err, nd.proc.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (nd *natsNode) healthy() error {
	resp, err := http.Get("http://" + nd.monitor + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", nd.name, resp.Status, body)
	}
	return nil
}

// stop ends the node with sig (SIGTERM: a clean shutdown, SIGKILL: a
// crash).
func (nd *natsNode) stop(sig syscall.Signal) { nd.proc.signal(sig) }

// restart starts a stopped node again on its ports and store.
func (nd *natsNode) restart() {
	nd.t.Helper()
	nd.start()
	nd.waitReady()
}

// pgServer is a PostgreSQL cluster of a test's own: initdb in
// t.TempDir(), trust authentication for the user root on 127.0.0.1.
type pgServer struct {
	t      *testing.T
	pgCtl  string
	dir    string // the data directory
	port   string
	cred   *syscall.Credential // the server's user when the test runs as root
	logOut string
}

// pgBinDirs are where Debian's PostgreSQL keeps its server binaries.
var pgBinDirs = []string{"/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin"}

// startPostgres initialises a small cluster (a few seconds) and starts it.
// PostgreSQL refuses to run as root: run as root, the test runs it as the
// user postgres, which owns the data directory.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	initdb := engineBinary(t, "initdb", pgBinDirs...)
	s := &pgServer{t: t, pgCtl: filepath.Join(filepath.Dir(initdb), "pg_ctl")}
	if _, err := os.Stat(s.pgCtl); err != nil {
		s.pgCtl = engineBinary(t, "pg_ctl", pgBinDirs...)
	}
	base := t.TempDir()
	s.dir = filepath.Join(base, "pg")
	s.logOut = filepath.Join(base, "log", "postgres.log")
	for _, d := range []string{s.dir, filepath.Dir(s.logOut)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			msg := "ENGINE CHAOS TESTS NOT RUN: PostgreSQL refuses to run as root and there is no user postgres: " + err.Error()
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The server's user must reach its directories: the test's
		// temporary directories become traversable (not readable).
		for _, d := range []string{base, filepath.Dir(base)} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range []string{s.dir, filepath.Dir(s.logOut)} {
			if err := os.Chown(d, int(uid), int(gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.port = portOf(t, freeAddr(t))
	if err := s.run("initdb", initdb, "-D", s.dir, "-U", "root", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(func() { // whether it runs or not
		s.run("pg_ctl stop", s.pgCtl, "-D", s.dir, "-m", "immediate", "-w", "stop")
	})
	return s
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// run runs a PostgreSQL tool as the server's user.
func (s *pgServer) run(what, bin string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
		cmd.Dir = "/"
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(s.logOut)
		return fmt.Errorf("%s: %v\n%s\nserver log:\n%s", what, err, out, log)
	}
	return nil
}

// start starts the server and waits until it takes connections. fsync is
// off: the tests kill the server, not the machine, and the kernel keeps
// what a killed process wrote.
func (s *pgServer) start() {
	s.t.Helper()
	err := s.run("pg_ctl start", s.pgCtl, "-D", s.dir, "-l", s.logOut, "-w", "-t", "60", "-o",
		fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50", s.port, s.dir), "start")
	if err != nil {
		s.t.Fatal(err)
	}
}

// stop stops the server: mode "fast" (clients disconnected, a clean
// shutdown) or "immediate" (no shutdown: recovery from the log on the
// next start, as after a crash).
func (s *pgServer) stop(mode string) {
	s.t.Helper()
	if err := s.run("pg_ctl stop", s.pgCtl, "-D", s.dir, "-m", mode, "-w", "-t", "60", "stop"); err != nil {
		s.t.Fatal(err)
	}
}

// url is the server's database for the cloud.
func (s *pgServer) url() string {
	return "postgres://root@127.0.0.1:" + s.port + "/postgres?sslmode=disable"
}

// failoverFront is a TCP front on loopback before several cloud nodes, as
// a load balancer is: each connection goes to the next node in turn, or
// to the one after it if that one does not answer.
type failoverFront struct {
	ln       net.Listener
	backends []string
	next     atomic.Uint32
}

// startFront listens on a loopback port and forwards to backends until
// the test ends.
func startFront(t *testing.T, backends ...string) *failoverFront {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &failoverFront{ln: ln, backends: backends}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c, true)
			wg.Go(func() {
				defer track(c, false)
				f.forward(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return f
}

func (f *failoverFront) addr() string { return f.ln.Addr().String() }

func (f *failoverFront) forward(c net.Conn) {
	defer c.Close()
	first := int(f.next.Add(1))
	var b net.Conn
	for i := range f.backends {
		var err error
		if b, err = net.DialTimeout("tcp", f.backends[(first+i)%len(f.backends)], 2*time.Second); err == nil {
			break
		}
	}
	if b == nil {
		return // no node answers: the client sees the connection close
	}
	defer b.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		dst.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}
	go pipe(b, c)
	go pipe(c, b)
	<-done
	// One side ended: give the other a moment to finish its half, then
	// close both (a killed node's half never ends by itself).
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}
