// Package mqtttest runs a real Mosquitto broker for tests, on free
// loopback ports with a password file and a TLS listener, and reads what
// arrives with a real client (mosquitto_sub). Without the programs a test
// skips loudly, and fails under CI=true, where the CI script installs
// Debian's mosquitto and mosquitto-clients packages.
package mqtttest

import (
	"bufio"
	"context"
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

	"github.com/fusionfleet/fusionfleet/internal/tlsca"
)

// The broker's logins.
const (
	FeedUser, FeedPassword = "feed", "feed-secret" // for the publisher under test
	MESUser, MESPassword   = "mes", "mes-secret"   // for the subscribers
)

// Tool finds a Mosquitto program, skipping or failing the test without it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: CI must install Debian's mosquitto and mosquitto-clients packages", name)
	}
	t.Skipf("SKIPPED: %s not found; install Debian's mosquitto and mosquitto-clients packages to test the MQTT feed against a real broker", name)
	return ""
}

// Broker is a Mosquitto process with three listeners on loopback: a plain
// and a TLS one, each with the logins FeedUser and MESUser, and an open
// one that takes anyone. It has no persistence: a restart forgets every
// retained message.
type Broker struct {
	// Plain, TLS and Open are the listeners' ports; CA issued the TLS
	// listener's certificate (for 127.0.0.1 and localhost).
	Plain, TLS, Open int
	CA               *tlsca.Authority

	t       testing.TB
	bin     string
	conf    string
	cmd     *exec.Cmd
	exited  chan struct{}
	logMu   sync.Mutex
	logs    strings.Builder
	clients int
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start starts a broker, stopped when the test ends.
func Start(t testing.TB) *Broker {
	t.Helper()
	b := &Broker{t: t, bin: Tool(t, "mosquitto"), Plain: freePort(t), TLS: freePort(t), Open: freePort(t)}
	Tool(t, "mosquitto_sub")
	Tool(t, "mosquitto_pub")
	dir := t.TempDir()
	var err error
	if b.CA, err = tlsca.LoadOrCreate(filepath.Join(dir, "ca"), []string{"127.0.0.1", "localhost"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(dir, "passwd")
	for i, u := range [][2]string{{FeedUser, FeedPassword}, {MESUser, MESPassword}} {
		args := []string{"-b", passwd, u[0], u[1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(Tool(t, "mosquitto_passwd"), args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	b.conf = filepath.Join(dir, "mosquitto.conf")
	conf := fmt.Sprintf(`# test broker
user root
persistence false
per_listener_settings true
log_dest stderr
log_type error
log_type warning
log_type notice
listener %[2]d 127.0.0.1
allow_anonymous false
password_file %[1]s
listener %[3]d 127.0.0.1
allow_anonymous false
password_file %[1]s
certfile %[5]s
keyfile %[6]s
listener %[4]d 127.0.0.1
allow_anonymous true
`, passwd, b.Plain, b.TLS, b.Open, filepath.Join(dir, "ca", "server.crt"), filepath.Join(dir, "ca", "server.key"))
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	t.Cleanup(b.Kill)
	return b
}

// URL is the plain listener's mqtt:// URL, TLSURL the TLS one's mqtts://
// URL, OpenURL the open one's.
func (b *Broker) URL() string     { return fmt.Sprintf("mqtt://127.0.0.1:%d", b.Plain) }
func (b *Broker) TLSURL() string  { return fmt.Sprintf("mqtts://127.0.0.1:%d", b.TLS) }
func (b *Broker) OpenURL() string { return fmt.Sprintf("mqtt://127.0.0.1:%d", b.Open) }

// Addr is the plain listener's host:port.
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Plain)) }

// Restart starts the broker again after Kill (Start starts it first).
func (b *Broker) Restart() {
	b.t.Helper()
	b.cmd = exec.Command(b.bin, "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = b, b
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { cmd.Wait(); close(exited) }(b.cmd, b.exited)
	deadline := time.Now().Add(10 * time.Second)
	for _, port := range []int{b.Plain, b.TLS, b.Open} {
		for {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-b.exited:
				b.t.Fatalf("mosquitto exited at start:\n%s", b.Log())
			default:
			}
			if time.Now().After(deadline) {
				b.t.Fatalf("mosquitto does not listen on %d: %v\n%s", port, err, b.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Kill stops the broker at once (SIGKILL): no goodbye to its clients.
func (b *Broker) Kill() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
	b.cmd = nil
}

// Write collects the broker's log.
func (b *Broker) Write(p []byte) (int, error) {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return b.logs.Write(p)
}

// Log returns what the broker logged.
func (b *Broker) Log() string {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return b.logs.String()
}

// Arrival is one message as mosquitto_sub printed it.
type Arrival struct {
	Retained bool
	Topic    string
	Payload  string
}

// Subscriber is a mosquitto_sub on the plain listener, logged in as
// MESUser with QoS 1.
type Subscriber struct {
	// Seen are the arrivals passed over by Await so far.
	Seen []Arrival

	t   testing.TB
	got chan Arrival
}

// Subscribe starts mosquitto_sub on filter and returns once it is
// subscribed (a marker published after its start arrived).
func (b *Broker) Subscribe(filter string) *Subscriber {
	b.t.Helper()
	b.clients++
	marker := fmt.Sprintf("marker/%d", b.clients)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, Tool(b.t, "mosquitto_sub"), "-h", "127.0.0.1", "-p", strconv.Itoa(b.Plain),
		"-u", MESUser, "-P", MESPassword, "-i", fmt.Sprintf("mes-%d", b.clients), "-q", "1", "-F", "%r %t %p",
		"-t", filter, "-t", marker)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	s := &Subscriber{t: b.t, got: make(chan Arrival, 10000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r, rest, _ := strings.Cut(sc.Text(), " ")
			topic, payload, _ := strings.Cut(rest, " ")
			s.got <- Arrival{Retained: r == "1", Topic: topic, Payload: payload}
		}
		io.Copy(io.Discard, out)
	}()
	b.t.Cleanup(func() {
		cancel()
		<-done
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.publish(marker, "ready")
		select {
		case a := <-s.got:
			if a.Topic == marker {
				return s
			}
			s.Seen = append(s.Seen, a)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto_sub did not subscribe: %s\n%s", stderr.String(), b.Log())
		}
	}
}

// publish publishes one message with mosquitto_pub.
func (b *Broker) publish(topic, payload string) {
	b.t.Helper()
	out, err := exec.Command(Tool(b.t, "mosquitto_pub"), "-h", "127.0.0.1", "-p", strconv.Itoa(b.Plain),
		"-u", MESUser, "-P", MESPassword, "-q", "1", "-t", topic, "-m", payload).CombinedOutput()
	if err != nil {
		b.t.Fatalf("mosquitto_pub: %v: %s\n%s", err, out, b.Log())
	}
}

// Await returns the first arrival, passed over before or coming within
// 20 s, that ok accepts, and fails the test otherwise.
func (s *Subscriber) Await(what string, ok func(Arrival) bool) Arrival {
	s.t.Helper()
	for i, a := range s.Seen {
		if ok(a) {
			s.Seen = append(s.Seen[:i:i], s.Seen[i+1:]...)
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
			s.Seen = append(s.Seen, a)
		case <-timeout:
			s.t.Fatalf("no %s arrived; seen: %v", what, s.Seen)
		}
	}
}

// Drain moves what arrived and was not awaited yet into Seen, and returns Seen.
func (s *Subscriber) Drain() []Arrival {
	for {
		select {
		case a := <-s.got:
			s.Seen = append(s.Seen, a)
		default:
			return s.Seen
		}
	}
}

// On accepts an arrival on topic ("+" stands for any one level),
// retained or not as said, whose payload holds every one of contains.
func On(topic string, retained bool, contains ...string) func(Arrival) bool {
	return func(a Arrival) bool {
		if !matches(topic, a.Topic) || a.Retained != retained {
			return false
		}
		for _, c := range contains {
			if !strings.Contains(a.Payload, c) {
				return false
			}
		}
		return true
	}
}

// matches reports whether topic matches filter, whose "+" levels match
// any one level.
func matches(filter, topic string) bool {
	f, tp := strings.Split(filter, "/"), strings.Split(topic, "/")
	if len(f) != len(tp) {
		return false
	}
	for i := range f {
		if f[i] != "+" && f[i] != tp[i] {
			return false
		}
	}
	return true
}
