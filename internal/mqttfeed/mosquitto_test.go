package mqttfeed

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/backoff"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/tlsca"
)

// These tests run a real Mosquitto of their own on free loopback ports
// (never the shared broker on 1883) and read what arrives with a real
// client, mosquitto_sub.

const (
	feedUser, feedPassword = "feed", "feed-secret"
	mesUser, mesPassword   = "mes", "mes-secret"
)

// mqttTool finds a Mosquitto program. Without it the test skips loudly,
// and fails under CI=true, where .ci/run installs the packages.
func mqttTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return filepath.Join(dir, name)
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: CI must install Debian's mosquitto and mosquitto-clients packages", name)
		}
		t.Skipf("SKIPPED: %s not found; install Debian's mosquitto and mosquitto-clients packages to test the MQTT feed against a real broker", name)
	}
	return path
}

// broker is a Mosquitto process with a plain and a TLS listener on
// loopback, a password file and no persistence: a restart forgets every
// retained message.
type broker struct {
	t           *testing.T
	bin, conf   string
	plain, tls  int
	ca          *tlsca.Authority
	cmd         *exec.Cmd
	exited      chan struct{}
	logs        *strings.Builder
	logMu       sync.Mutex
	subscribeID int
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	b := &broker{t: t, bin: mqttTool(t, "mosquitto"), plain: freePort(t), tls: freePort(t), logs: &strings.Builder{}}
	mqttTool(t, "mosquitto_sub")
	dir := t.TempDir()
	var err error
	if b.ca, err = tlsca.LoadOrCreate(filepath.Join(dir, "ca"), []string{"127.0.0.1", "localhost"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(dir, "passwd")
	for i, u := range [][2]string{{feedUser, feedPassword}, {mesUser, mesPassword}} {
		args := []string{"-b", passwd, u[0], u[1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(mqttTool(t, "mosquitto_passwd"), args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	b.conf = filepath.Join(dir, "mosquitto.conf")
	conf := fmt.Sprintf(`# test broker
user root
persistence false
allow_anonymous false
password_file %s
log_dest stderr
log_type error
log_type warning
log_type notice
listener %d 127.0.0.1
listener %d 127.0.0.1
certfile %s
keyfile %s
`, passwd, b.plain, b.tls, filepath.Join(dir, "ca", "server.crt"), filepath.Join(dir, "ca", "server.key"))
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(b.kill)
	return b
}

func (b *broker) start() {
	b.t.Helper()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = b, b
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(b.cmd, b.exited)
	deadline := time.Now().Add(10 * time.Second)
	for _, port := range []int{b.plain, b.tls} {
		for {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-b.exited:
				b.t.Fatalf("mosquitto exited at start:\n%s", b.log())
			default:
			}
			if time.Now().After(deadline) {
				b.t.Fatalf("mosquitto does not listen on %d: %v\n%s", port, err, b.log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// kill stops the broker at once (SIGKILL): no goodbye to its clients.
func (b *broker) kill() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
	b.cmd = nil
}

func (b *broker) Write(p []byte) (int, error) {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return b.logs.Write(p)
}

func (b *broker) log() string {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return b.logs.String()
}

// arrival is one message as mosquitto_sub printed it.
type arrival struct {
	retained bool
	topic    string
	payload  string
}

// subscriber is a mosquitto_sub reading topic on the plain listener.
type subscriber struct {
	t    *testing.T
	got  chan arrival
	seen []arrival
}

// subscribe starts mosquitto_sub on filter and returns once it is
// subscribed: it has received a marker published after its start.
func (b *broker) subscribe(filter string) *subscriber {
	b.t.Helper()
	b.subscribeID++
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, mqttTool(b.t, "mosquitto_sub"), "-h", "127.0.0.1", "-p", strconv.Itoa(b.plain),
		"-u", mesUser, "-P", mesPassword, "-i", fmt.Sprintf("mes-%d", b.subscribeID), "-q", "1", "-F", "%r %t %p",
		"-t", filter, "-t", "marker/#")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	s := &subscriber{t: b.t, got: make(chan arrival, 1000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r, rest, _ := strings.Cut(sc.Text(), " ")
			topic, payload, _ := strings.Cut(rest, " ")
			s.got <- arrival{retained: r == "1", topic: topic, payload: payload}
		}
		io.Copy(io.Discard, out)
	}()
	b.t.Cleanup(func() {
		cancel()
		<-done
		cmd.Wait()
	})
	// Publish markers with the feed's own client until one arrives.
	marker := fmt.Sprintf("marker/%d", b.subscribeID)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.publishPlain(marker, "ready")
		select {
		case a := <-s.got:
			if a.topic == marker {
				return s
			}
			s.seen = append(s.seen, a)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto_sub did not subscribe: %s\n%s", stderr.String(), b.log())
		}
	}
}

// publishPlain publishes one message with a Paho session of its own.
func (b *broker) publishPlain(topic, payload string) {
	b.t.Helper()
	dial := pahoDialer(net.JoinHostPort("127.0.0.1", strconv.Itoa(b.plain)), false,
		Options{ClientID: "marker", Username: mesUser, Password: mesPassword, Timeout: 5 * time.Second})
	s, err := dial(b.t.Context(), message{topic: "marker/will", payload: []byte("gone")})
	if err != nil {
		b.t.Fatalf("marker: %v", err)
	}
	defer s.close(nil)
	if err := s.publish(b.t.Context(), message{topic: topic, payload: []byte(payload)}); err != nil {
		b.t.Fatalf("marker: %v", err)
	}
}

// await returns the first arrival (seen before or coming) that ok accepts,
// failing the test after 20 s.
func (s *subscriber) await(what string, ok func(arrival) bool) arrival {
	s.t.Helper()
	for i, a := range s.seen {
		if ok(a) {
			s.seen = append(s.seen[:i:i], s.seen[i+1:]...)
			return a
		}
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case a := <-s.got:
			if ok(a) {
				return a
			}
			s.seen = append(s.seen, a)
		case <-timeout:
			s.t.Fatalf("no %s arrived; seen: %v", what, s.seen)
		}
	}
}

func on(topic string, retained bool, contains ...string) func(arrival) bool {
	return func(a arrival) bool {
		if a.topic != topic || a.retained != retained {
			return false
		}
		for _, c := range contains {
			if !strings.Contains(a.payload, c) {
				return false
			}
		}
		return true
	}
}

// cutter is a TCP relay between the feed and the broker that the test can
// close (the feed's connection dies without a goodbye, as when the
// Command Center's host loses the network) and hold shut.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	shut   bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newCutter(t *testing.T, target string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, target: target}
	c.wg.Go(c.serve)
	t.Cleanup(func() {
		ln.Close()
		c.cut(true)
		c.wg.Wait()
	})
	return c
}

func (c *cutter) serve() {
	for {
		in, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		shut := c.shut
		c.mu.Unlock()
		var out net.Conn
		if !shut {
			out, err = net.DialTimeout("tcp", c.target, time.Second)
		}
		if shut || err != nil {
			in.Close()
			continue
		}
		c.mu.Lock()
		c.conns = append(c.conns, in, out)
		c.mu.Unlock()
		c.wg.Go(func() { io.Copy(out, in); out.Close() })
		c.wg.Go(func() { io.Copy(in, out); in.Close() })
	}
}

// cut closes every relayed connection; shut refuses new ones until open.
func (c *cutter) cut(shut bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shut = shut
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

func (c *cutter) open() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shut = false
}

func (c *cutter) url() string { return "mqtt://" + c.ln.Addr().String() }

// siteStore is a Command Center store with one printer, P-7, reached.
func siteStore(t *testing.T) (*commandcenter.Store, int64) {
	t.Helper()
	st, err := commandcenter.Open(t.Context(), filepath.Join(t.TempDir(), "cc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, err := st.AddPrinter(t.Context(), "10.1.2.3:8443", "AA:BB", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ident := deviceapi.Identity{Identity: fleet.Identity{PrinterID: "P-7", Name: "Line 2", Model: "FF-4200", SerialNumber: "SN7"}, Instance: "i1"}
	observe(t, st, p.ID, &ident, 1)
	return st, p.ID
}

// observe stores a poll of printer id: printing job-1 ("Bracket Order
// 4711"), event seq and the job's change seq.
func observe(t *testing.T, st *commandcenter.Store, id int64, ident *deviceapi.Identity, seq uint64) {
	t.Helper()
	now := time.Now()
	status := deviceapi.Status{State: fleet.StatePrinting, Activity: "printing", Time: now, Job: &deviceapi.CurrentJob{ID: "job-1", Progress: 0.25,
		Private: deviceapi.JobPrivate{Name: "Bracket Order 4711", User: "jdoe", Host: "CAD-PC-7"}}}
	job := deviceapi.Job{Seq: seq, Job: fleet.Job{ID: "job-1", CreatedAt: now, Status: fleet.JobPrinting, LayerCount: 10},
		Private: deviceapi.JobPrivate{Name: "Bracket Order 4711", User: "jdoe", Host: "CAD-PC-7"}}
	h := commandcenter.History{Instance: "i1", Jobs: []deviceapi.Job{job}, Events: []fleet.Event{{Seq: seq, Code: "E" + strconv.FormatUint(seq, 10),
		Description: "recoater check", Severity: fleet.SeverityInfo, Time: now}}}
	if err := st.Observe(t.Context(), id, commandcenter.Observation{Identity: ident, Status: status, Instance: "i1", Cursor: seq, Seen: now, History: h}, nil); err != nil {
		t.Fatal(err)
	}
}

// runFeed runs f until the test ends.
func runFeed(t *testing.T, f *Feed) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

// awaitState waits up to 20 s for the feed's state to satisfy ok.
func awaitState(t *testing.T, f *Feed, what string, ok func(State) bool) State {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := f.State()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("feed never %s: %+v", what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var fastRetry = backoff.Policy{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond}

func TestFeedToMosquittoOverTLS(t *testing.T) {
	b := startBroker(t)
	st, id := siteStore(t)
	f, err := New(st, Options{URL: fmt.Sprintf("mqtts://127.0.0.1:%d", b.tls), Username: feedUser, Password: feedPassword,
		RootCAs: b.ca.Pool, Prefix: "plant/ff", ClientID: "feed-tls", Interval: 50 * time.Millisecond, Backoff: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	runFeed(t, f)
	awaitState(t, f, "connected", func(s State) bool { return s.Connected && s.Queued == 0 })

	sub := b.subscribe("plant/ff/#")
	sub.await("retained birth", on("plant/ff/status", true, `"state":"online"`))
	state := sub.await("retained state", on("plant/ff/printers/P-7/state", true, `"Bracket Order 4711"`))
	var sp struct {
		Printer  string `json:"printer"`
		Identity struct {
			Serial string `json:"serial_number"`
		} `json:"identity"`
		Status struct {
			Job struct {
				Progress float64 `json:"progress"`
			} `json:"job"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(state.payload), &sp); err != nil || sp.Printer != "P-7" || sp.Status.Job.Progress != 0.25 {
		t.Errorf("state payload %s: %+v, %v", state.payload, sp, err)
	}

	observe(t, st, id, nil, 2)
	sub.await("event 2", on("plant/ff/printers/P-7/events", false, `"seq":2`, `"code":"E2"`))
	sub.await("job change 2", on("plant/ff/printers/P-7/jobs", false, `"seq":2`, `"Bracket Order 4711"`))
}

func TestFeedSurvivesBrokerRestartAndLeavesItsWill(t *testing.T) {
	b := startBroker(t)
	relay := newCutter(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(b.plain)))
	st, id := siteStore(t)
	f, err := New(st, Options{URL: relay.url(), Username: feedUser, Password: feedPassword, Prefix: "ff", ClientID: "feed-restart",
		AllowList: true, Interval: 50 * time.Millisecond, Backoff: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	runFeed(t, f)
	awaitState(t, f, "connected", func(s State) bool { return s.Connected && s.Queued == 0 })

	// The broker dies; what the site learns meanwhile waits in the queue.
	relay.cut(true)
	b.kill()
	down := awaitState(t, f, "noticed the broker gone", func(s State) bool { return !s.Connected && s.LastError != "" })
	observe(t, st, id, nil, 2)
	observe(t, st, id, nil, 3)
	awaitState(t, f, "queued the events", func(s State) bool { return s.Queued >= 3 })

	b.start()
	sub := b.subscribe("ff/#")
	relay.open()
	awaitState(t, f, "reconnected", func(s State) bool { return s.Connected && s.Queued == 0 })
	sub.await("birth", on("ff/status", false, `"state":"online"`))
	sub.await("state republished", on("ff/printers/P-7/state", false, `"printer":"P-7"`))
	sub.await("event 2 kept", on("ff/printers/P-7/events", false, `"seq":2`))
	sub.await("event 3 kept", on("ff/printers/P-7/events", false, `"seq":3`))
	sub.await("job change 3", on("ff/printers/P-7/jobs", false, `"seq":3`))
	for _, a := range append(sub.seen, drain(sub.got)...) {
		for _, name := range []string{"Bracket Order 4711", "jdoe", "CAD-PC-7", "10.1.2.3"} {
			if strings.Contains(a.payload, name) {
				t.Errorf("with the allow-list, %s carries %q: %s", a.topic, name, a.payload)
			}
		}
	}
	if s := f.State(); s.Since.Before(down.Since) || s.Dropped != 0 {
		t.Errorf("state after the restart = %+v", s)
	}

	// The Command Center's connection dies without a goodbye: the broker
	// publishes its will, then the feed is back.
	relay.cut(false)
	sub.await("will", on("ff/status", false, `"state":"offline"`, `"reason":"connection lost"`))
	sub.await("birth again", on("ff/status", false, `"state":"online"`))
	fresh := b.subscribe("ff/#")
	fresh.await("retained state", on("ff/printers/P-7/state", true, `"printer":"P-7"`))
	fresh.await("retained birth", on("ff/status", true, `"state":"online"`))
}

func drain(ch chan arrival) []arrival {
	var out []arrival
	for {
		select {
		case a := <-ch:
			out = append(out, a)
		default:
			return out
		}
	}
}

func TestFeedRefusedRetriesAndSays(t *testing.T) {
	b := startBroker(t)
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"wrong password", Options{URL: fmt.Sprintf("mqtt://127.0.0.1:%d", b.plain), Username: feedUser, Password: "wrong"}, "not Authorized"},
		{"no login", Options{URL: fmt.Sprintf("mqtt://127.0.0.1:%d", b.plain)}, "not Authorized"},
		{"untrusted certificate", Options{URL: fmt.Sprintf("mqtts://127.0.0.1:%d", b.tls), Username: feedUser, Password: feedPassword}, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := siteStore(t)
			tc.opts.Interval, tc.opts.Backoff, tc.opts.ClientID = 50*time.Millisecond, fastRetry, "feed-"+strings.ReplaceAll(tc.name, " ", "-")
			f, err := New(st, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			runFeed(t, f)
			first := awaitState(t, f, "failed", func(s State) bool { return s.LastError != "" })
			again := awaitState(t, f, "retried", func(s State) bool { return s.LastErrorAt.After(first.LastErrorAt) })
			if again.Connected || !strings.Contains(again.LastError, tc.want) || !again.Since.Equal(first.Since) || again.Queued == 0 {
				t.Errorf("state = %+v, want not connected, retrying since %v, the error saying %q, the state queued", again, first.Since, tc.want)
			}
		})
	}
}
