package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// Kept closed (issue 12): what the processes expose to the network is
// checked from outside them — their TLS with a real scanner (tlsscan_test.go),
// their listeners from the kernel's tables (this file).

// reMTConnect is the line of a Command Center's MTConnect agent.
var reMTConnect = regexp.MustCompile(`^mtconnect: (\S+)`)

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// site is a cloud and a process of printers, started from the binary.
type site struct {
	dir, bin        string
	cloud, printers *proc
	cloudAddr, ca   string
	tokenFile       string
	printerAddrs    []string
}

// startSite starts a cloud on loopback and n virtual printers.
func startSite(t *testing.T, n int) *site {
	t.Helper()
	s := &site{dir: t.TempDir(), bin: buildBinary(t), cloudAddr: freeAddr(t)}
	s.cloud = startProc(t, s.bin, "cloud", "-data", filepath.Join(s.dir, "cloud"), "-listen", s.cloudAddr,
		"-hosts", "127.0.0.1", "-log-level", "error")
	s.cloud.waitLine(t, reCloud)
	s.ca = s.cloud.waitLine(t, reCA)[1]
	s.tokenFile = filepath.Join(s.dir, "token")
	if err := os.WriteFile(s.tokenFile, []byte(s.cloud.waitLine(t, reToken)[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	s.printers = startProc(t, s.bin, "printer", "-count", fmt.Sprint(n), "-listen", "127.0.0.1:0",
		"-data", filepath.Join(s.dir, "printers"), "-log-level", "error")
	for range n {
		s.printerAddrs = append(s.printerAddrs, s.printers.waitLine(t, rePrinter)[1])
	}
	return s
}

// wantListeners waits until the process listens on want (its listening
// TCP sockets and unconnected UDP sockets, as "tcp 127.0.0.1:8443"), then
// checks once more after a moment that nothing else has appeared.
func wantListeners(t *testing.T, name string, p *proc, want []string) {
	t.Helper()
	slices.Sort(want)
	var got []string
	check := func() error {
		var err error
		if got, err = listeners(p.cmd.Process.Pid); err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s listens on %q, want exactly %q", name, got, want)
		}
		return nil
	}
	if err := wait.Until(20*time.Second, 100*time.Millisecond, check); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // what a part opens a moment later counts too
	if err := check(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s listens on %q", name, got)
}

// Every process listens on its configured ports and nothing else: the
// cloud on -listen alone (its embedded NATS is in-process, with no network
// listener, so no unauthenticated NATS port exists), the printers each on
// their port, and a Command Center on its local UI port, -mirror-listen and
// -mtconnect, bound to loopback as configured.
func TestListeners(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if runtime.GOOS != "linux" {
		t.Skipf("SKIPPED: reads the kernel's socket tables from /proc, which %s does not have", runtime.GOOS)
	}
	t.Parallel() // each runs its own processes on ports of their own
	s := startSite(t, 2)
	mirror, mtc := freeAddr(t), freeAddr(t)
	cc := startProc(t, s.bin, "commandcenter", "-data", filepath.Join(s.dir, "cc"), "-cloud", "https://"+s.cloudAddr,
		"-ca-file", s.ca, "-enrol-token-file", s.tokenFile, "-trust-new-printers", "-poll", "200ms",
		"-printer", s.printerAddrs[0], "-printer", s.printerAddrs[1],
		"-ui-ports", "0", "-mirror-listen", mirror, "-mtconnect", mtc, "-log-level", "error")
	ui := strings.TrimSuffix(strings.TrimPrefix(cc.waitLine(t, reCC)[1], "http://"), "/")
	if got := cc.waitLine(t, reMTConnect)[1]; got != "http://"+mtc+"/" {
		t.Errorf("Command Center printed mtconnect: %s, want http://%s/", got, mtc)
	}

	wantListeners(t, "cloud", s.cloud, []string{"tcp " + s.cloudAddr})
	wantListeners(t, "printers", s.printers, []string{"tcp " + s.printerAddrs[0], "tcp " + s.printerAddrs[1]})
	wantListeners(t, "Command Center", cc, []string{"tcp " + ui, "tcp " + mirror, "tcp " + mtc})
}
