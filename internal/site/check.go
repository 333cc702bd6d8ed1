package site

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
)

// localUIAddrFile, in the data directory, holds the address a running
// node's local UI listens on; the node removes it when it stops.
const localUIAddrFile = "localui.addr"

// Check runs the connectivity self-test of the whitepaper's checklist
// (R-ARCH-9) for a node that opts would configure, without running it:
// the cloud through the proxy the environment selects, its certificate
// and clock; every printer paired in DataDir's store, if there is one,
// with its pinned certificate and whether it paired this node's client
// certificate, and the last upload; a free port for the
// local UI in UIFirstPort–UILastPort on UIHost, or, beside a running node,
// that its local UI answers; the host's sleep settings.
func Check(ctx context.Context, opts Options) (commandcenter.Report, error) {
	opts = opts.withDefaults()
	cfg := commandcenter.SelfTestConfig{CloudURL: opts.CloudURL, RootCAs: opts.RootCAs,
		LocalHost: opts.UIHost, LocalPorts: [2]int{opts.UIFirstPort, opts.UILastPort}, AnyLocalPort: opts.UIFirstPort == 0}
	// Beside a running node, its local UI is checked, not a free port.
	if b, err := os.ReadFile(filepath.Join(opts.DataDir, localUIAddrFile)); err == nil {
		addr := strings.TrimSpace(string(b))
		d := net.Dialer{Timeout: 2 * time.Second}
		if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
			c.Close()
			cfg.LocalUI = addr
		}
	}
	db := filepath.Join(opts.DataDir, "commandcenter.db")
	if _, err := os.Stat(db); err == nil {
		st, err := commandcenter.Open(ctx, db)
		if err != nil {
			return commandcenter.Report{}, err
		}
		defer st.Close()
		printers, err := st.Printers(ctx)
		if err != nil {
			return commandcenter.Report{}, err
		}
		cfg.Printers = commandcenter.CheckTargets(printers)
		// The printers are read with the node's client certificate, to
		// check they paired it; only if it exists: a check makes nothing.
		if cert, err := tls.LoadX509KeyPair(filepath.Join(opts.DataDir, deviceapi.ClientCertFile),
			filepath.Join(opts.DataDir, deviceapi.ClientKeyFile)); err == nil {
			cfg.Reader = func(addr string, pin deviceapi.Fingerprint) commandcenter.Device {
				return deviceapi.NewClient(addr, pin, deviceapi.ClientOptions{Certificate: &cert})
			}
		}
		if u, err := st.UplinkState(ctx); err == nil {
			cfg.Uplink = &u
		}
	}
	return commandcenter.SelfTest(ctx, cfg), nil
}
