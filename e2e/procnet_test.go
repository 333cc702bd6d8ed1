package e2e

import (
	"bufio"
	byteorder "encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// What a process listens on, read from Linux's /proc: the sockets of its
// network namespace (/proc/PID/net/{tcp,tcp6,udp,udp6}) that are open in
// the process (/proc/PID/fd links "socket:[INODE]"). Only tests use it.

// procSocket is one line of a /proc/net/{tcp,udp}{,6} table.
type procSocket struct {
	local, remote netip.AddrPort
	state         uint8 // TCP: 0x0A LISTEN; UDP: 0x07 unconnected
	inode         uint64
}

const (
	tcpListen      = 0x0A
	udpUnconnected = 0x07
)

// parseProcNet parses a /proc/net/tcp, tcp6, udp or udp6 table.
func parseProcNet(r io.Reader) ([]procSocket, error) {
	var out []procSocket
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if n == 1 {
			if len(f) < 2 || f[0] != "sl" || f[1] != "local_address" {
				return nil, fmt.Errorf("line 1: want the header (sl local_address …), got %q", sc.Text())
			}
			continue
		}
		if len(f) == 0 {
			continue
		}
		// sl local remote st tx:rx tr:when retrnsmt uid timeout inode …
		if len(f) < 10 {
			return nil, fmt.Errorf("line %d: %d fields, want at least 10", n, len(f))
		}
		var s procSocket
		var err error
		if s.local, err = parseProcAddr(f[1]); err != nil {
			return nil, fmt.Errorf("line %d: local address: %w", n, err)
		}
		if s.remote, err = parseProcAddr(f[2]); err != nil {
			return nil, fmt.Errorf("line %d: remote address: %w", n, err)
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("line %d: state %q: %w", n, f[3], err)
		}
		s.state = uint8(st)
		if s.inode, err = strconv.ParseUint(f[9], 10, 64); err != nil {
			return nil, fmt.Errorf("line %d: inode %q: %w", n, f[9], err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// parseProcAddr parses "0100007F:1F90" (IPv4) or the 32 hex digits of an
// IPv6 address, both as the kernel prints them: the address in 32-bit
// words of host byte order, the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q: no port", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: port: %w", s, err)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("%q: want 8 or 32 hex digits of address", s)
	}
	// Every 32-bit word is in host byte order: little-endian on the
	// machines this runs on (amd64, arm64).
	for i := 0; i < len(raw); i += 4 {
		byteorder.BigEndian.PutUint32(raw[i:], byteorder.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// listeners returns where the process pid accepts traffic: its listening
// TCP sockets and its unconnected UDP sockets, sorted.
func listeners(pid int) ([]string, error) {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(proc, "fd"))
	if err != nil {
		return nil, err
	}
	mine := map[uint64]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(proc, "fd", fd.Name()))
		if err != nil {
			continue // closed since the directory was read
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			if n, err := strconv.ParseUint(strings.TrimSuffix(ino, "]"), 10, 64); err == nil {
				mine[n] = true
			}
		}
	}
	var out []string
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open(filepath.Join(proc, "net", table))
		if err != nil {
			return nil, err
		}
		socks, err := parseProcNet(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", table, err)
		}
		proto, listen := "tcp", uint8(tcpListen)
		if strings.HasPrefix(table, "udp") {
			proto, listen = "udp", udpUnconnected
		}
		for _, s := range socks {
			if mine[s.inode] && s.state == listen {
				out = append(out, proto+" "+s.local.String())
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func TestParseProcNet(t *testing.T) {
	const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 228 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0000000000000000 20 4 30 10 -1
`
	const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1111 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 6617 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 6618 1 0000000000000000 100 0 0 10 0
   2: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 6619 1 0000000000000000 100 0 0 10 0
`
	ap := netip.MustParseAddrPort
	tests := []struct {
		name, text string
		want       []procSocket
		wantErr    string
	}{
		{name: "tcp", text: tcp, want: []procSocket{
			{local: ap("127.0.0.1:8080"), remote: ap("0.0.0.0:0"), state: tcpListen, inode: 4242},
			{local: ap("0.0.0.0:2024"), remote: ap("0.0.0.0:0"), state: tcpListen, inode: 228},
			{local: ap("127.0.0.1:8080"), remote: ap("127.0.0.1:54321"), state: 0x01, inode: 4243},
		}},
		{name: "tcp6", text: tcp6, want: []procSocket{
			{local: ap("[::1]:4369"), remote: ap("[::]:0"), state: tcpListen, inode: 6617},
			{local: ap("127.0.0.1:8443"), remote: ap("[::]:0"), state: tcpListen, inode: 6618}, // v4-mapped
			{local: ap("[2001:db8::1]:80"), remote: ap("[::]:0"), state: tcpListen, inode: 6619},
		}},
		{name: "header only", text: "  sl  local_address rem_address   st\n", want: nil},
		{name: "no header", text: "   0: 0100007F:1F90 00000000:0000 0A\n", wantErr: "line 1"},
		{name: "short line", text: "  sl  local_address\n   0: 0100007F:1F90 00000000:0000 0A\n", wantErr: "line 2: 4 fields"},
		{name: "bad address", text: "  sl  local_address\n   0: 0100007:1F90 00000000:0000 0A 0:0 0:0 0 0 0 1\n", wantErr: "local address"},
		{name: "bad port", text: "  sl  local_address\n   0: 0100007F:XY 00000000:0000 0A 0:0 0:0 0 0 0 1\n", wantErr: "port"},
		{name: "bad inode", text: "  sl  local_address\n   0: 0100007F:1F90 00000000:0000 0A 0:0 0:0 0 0 0 x\n", wantErr: "inode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcNet(strings.NewReader(tt.text))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(procSocket{}), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("parseProcNet (-want +got):\n%s", diff)
			}
		})
	}
}
