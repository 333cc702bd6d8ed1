package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
)

// externalNATS returns the URL of the NATS JetStream server on
// 127.0.0.1:4222, or skips loudly (fails under CI=true).
func externalNATS(t *testing.T) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:4222", 2*time.Second)
	if err != nil {
		msg := "EXTERNAL NATS TESTS NOT RUN: no server on 127.0.0.1:4222: " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	conn.Close()
	return "nats://127.0.0.1:4222"
}

// Two cloud nodes sharing one NATS JetStream and one PostgreSQL work as
// one cloud: gateways upload to either (and resend to the other), every
// record lands once, and both nodes' dashboards see every printer, live.
func TestTwoNodesShareNATSAndPostgres(t *testing.T) {
	natsURL := externalNATS(t)
	dbURL := pgtest.FreshDB(t)
	ctx := t.Context()
	dir := t.TempDir() // shared: both nodes serve the same certificate
	b := make([]byte, 4)
	rand.Read(b)
	streamName := "TWONODES_" + strings.ToUpper(hex.EncodeToString(b))
	t.Cleanup(func() { // runs after the nodes stopped
		nc, err := nats.Connect(natsURL)
		if err != nil {
			return
		}
		defer nc.Close()
		if js, err := jetstream.New(nc); err == nil {
			js.DeleteStream(context.Background(), streamName)
		}
	})

	start := func() *cloudNode {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		plain, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		node, err := startCloud(ctx, cloudConfig{
			dataDir: dir, db: dbURL, natsURL: natsURL, streamName: streamName, ln: ln, plainLn: plain,
			hosts: []string{"127.0.0.1"}, clock: clock.Real{}, logger: discardLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		goRun(t, node.run)
		return node
	}
	nodes := []*cloudNode{start(), start()}

	user, password, token, err := demoTenant(ctx, nodes[0], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := nodes[1].store.UserByName(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	sites, err := nodes[1].store.Sites(ctx, u.OrgID)
	if err != nil || len(sites) == 0 {
		t.Fatalf("sites: %v, %v", sites, err)
	}
	token2, err := newEnrolmentToken(ctx, nodes[1].store, sites[0].ID, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// One gateway enrols through each node.
	type gateway struct {
		cred    uplink.Credentials
		printer fleet.PrinterID
	}
	clients := make([]*uplink.Client, 2)
	for i, n := range nodes {
		if clients[i], err = uplink.NewClient(n.url, uplink.ClientOptions{RootCAs: n.rootCAs.Pool}); err != nil {
			t.Fatal(err)
		}
	}
	var gws []gateway
	for i, tok := range []string{token, token2} {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		resp, err := clients[i].Enrol(ctx, tok, fmt.Sprintf("site gateway %d", i), pub)
		if err != nil {
			t.Fatalf("enrol through node %d: %v", i, err)
		}
		gws = append(gws, gateway{uplink.Credentials{GatewayID: resp.GatewayID, Key: priv}, fleet.PrinterID(fmt.Sprintf("printer-two-nodes-%d", i))})
	}

	// Browsers on both nodes, logged in, each with a live stream open.
	lives := make([]<-chan string, 2)
	for i, n := range nodes {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		login(t, c, n.dashboardURL, user, password, http.StatusOK)
		lives[i] = liveEvents(t, c, n.dashboardURL+"api/events")
	}

	// Each gateway sends 40 events in batches of 10, alternating nodes, and
	// resends every batch to the other node, as a gateway would after a
	// lost acknowledgement.
	const perGateway = 40
	now := time.Now()
	for g, gw := range gws {
		for first := uint64(1); first <= perGateway; first += 10 {
			var batch uplink.Batch
			for seq := first; seq < first+10; seq++ {
				batch.Records = append(batch.Records, fleet.Record{Seq: seq, Kind: fleet.KindEvent, PrinterID: gw.printer, Time: now,
					Event: &fleet.Event{Seq: seq, Code: "JOB_QUEUED", Description: "job queued", Severity: fleet.SeverityInfo, Time: now}})
			}
			for _, i := range []int{(g + int(first/10)) % 2, (g + int(first/10) + 1) % 2} {
				if _, err := clients[i].Upload(ctx, gw.cred, batch); err != nil {
					t.Fatalf("upload through node %d: %v", i, err)
				}
			}
		}
		status := uplink.Batch{Records: []fleet.Record{{Seq: perGateway + 1, Kind: fleet.KindStatus, PrinterID: gw.printer, Time: now,
			Status: &fleet.Status{PrinterID: gw.printer, State: fleet.StatePrinting, Progress: 0.5, ETCSeconds: 3600, Time: now}}}}
		if _, err := clients[g].Upload(ctx, gw.cred, status); err != nil {
			t.Fatal(err)
		}
	}

	// Every record lands once, whichever node's writer applied it.
	type eventReader interface {
		Events(ctx context.Context, org fleet.OrgID, p fleet.PrinterID, from, to time.Time, limit int) ([]fleet.Event, error)
	}
	stores := []eventReader{nodes[0].store.(eventReader), nodes[1].store.(eventReader)}
	for _, gw := range gws {
		eventually(t, "events did not all land", 30*time.Second, func() bool {
			evs, err := stores[0].Events(ctx, u.OrgID, gw.printer, now.Add(-time.Hour), now.Add(time.Hour), 1000)
			return err == nil && len(evs) >= perGateway
		})
		evs, _ := stores[1].Events(ctx, u.OrgID, gw.printer, now.Add(-time.Hour), now.Add(time.Hour), 1000)
		if len(evs) != perGateway {
			t.Errorf("printer %s: %d events stored, want %d (each once)", gw.printer, len(evs), perGateway)
		}
	}
	// Both dashboards were told live, and both show both printers.
	for i, live := range lives {
		deadline := time.After(30 * time.Second)
		for {
			var data string
			select {
			case data = <-live:
			case <-deadline:
				t.Fatalf("node %d: its live stream never showed both printers printing", i)
			}
			if strings.Count(data, `"state_key":"printing"`) == 2 {
				break
			}
		}
	}
}

// liveEvents opens a Server-Sent Events stream and delivers its data lines.
func liveEvents(t *testing.T, client *http.Client, u string) <-chan string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	c := *client
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("live stream %s: %s", u, resp.Status)
	}
	out := make(chan string)
	go func() {
		defer resp.Body.Close()
		sc := newLineScanner(resp.Body, make([]byte, 0, 1<<16))
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				select {
				case out <- data:
				case <-t.Context().Done():
					return
				}
			}
		}
	}()
	return out
}

// R-SEC-2: the cloud speaks TLS 1.3, or 1.2 with AEAD suites only.
func TestCloudTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	node, err := startCloud(t.Context(), cloudConfig{
		dataDir: t.TempDir(), ln: ln, hosts: []string{"127.0.0.1"}, clock: clock.Real{}, logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	goRun(t, node.run)
	tests := []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 AEAD", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.2 CBC", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.RootCAs = node.rootCAs.Pool
			cfg.ServerName = "127.0.0.1"
			conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != tt.ok {
				t.Errorf("handshake: %v, want success %v", err, tt.ok)
			}
		})
	}
}

// `fusionfleet commandcenter check` runs the connectivity self-test against a
// real cloud node and says what it found; against a cloud that is not there
// it fails with exit status 1.
func TestCommandCenterCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	node, err := startCloud(t.Context(), cloudConfig{
		dataDir: t.TempDir(), ln: ln, hosts: []string{"127.0.0.1"}, clock: clock.Real{}, logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	goRun(t, node.run)

	code, stdout, stderr := runArgs(t, "commandcenter", "check", "-cloud", node.url, "-ca-file", node.caPath, "-data", t.TempDir())
	if code != 0 {
		t.Errorf("check against a healthy cloud: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"cloud reachable", "certificate", "clock"} {
		if !strings.Contains(strings.ToLower(stdout), want) {
			t.Errorf("check report lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, _ = runArgs(t, "commandcenter", "check", "-cloud", "https://127.0.0.1:1", "-data", t.TempDir())
	if code != 1 || !strings.Contains(strings.ToLower(stdout), "fail") {
		t.Errorf("check against no cloud: exit %d, report:\n%s\nwant exit 1 and a failed check", code, stdout)
	}
}
