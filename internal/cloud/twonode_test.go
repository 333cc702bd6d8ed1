package cloud

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/store/pgtest"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/fusionfleet/fusionfleet/internal/wait"
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
	// Each node has a data directory of its own (a directory in use
	// refuses a second process); they serve one certificate, as nodes
	// behind one name do: the second starts with the first one's.
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	opts := Options{DataDir: t.TempDir(), DB: dbURL, NATSURL: natsURL, StreamName: streamName, DashboardListen: "127.0.0.1:0", Registry: regs[0]}
	first := start(t, opts)
	second := t.TempDir()
	if err := os.CopyFS(filepath.Join(second, "tls"), os.DirFS(filepath.Join(opts.DataDir, "tls"))); err != nil {
		t.Fatal(err)
	}
	opts.DataDir, opts.Registry = second, regs[1]
	nodes := []*Node{first, start(t, opts)}

	user, password, token, err := nodes[0].DemoTenant(ctx)
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
		if clients[i], err = uplink.NewClient(n.URL(), uplink.ClientOptions{RootCAs: n.RootCAs()}); err != nil {
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
		logIn(t, c, n.DashboardURL(), user, password)
		lives[i] = liveEvents(t, c, n.DashboardURL()+"api/events")
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
	for _, gw := range gws {
		err := wait.Until(30*time.Second, 50*time.Millisecond, func() error {
			evs, err := nodes[0].store.Events(ctx, u.OrgID, gw.printer, now.Add(-time.Hour), now.Add(time.Hour), 1000)
			if err == nil && len(evs) < perGateway {
				err = fmt.Errorf("%d events landed", len(evs))
			}
			return err
		})
		if err != nil {
			t.Fatalf("printer %s: %v, want %d", gw.printer, err, perGateway)
		}
		evs, _ := nodes[1].store.Events(ctx, u.OrgID, gw.printer, now.Add(-time.Hour), now.Add(time.Hour), 1000)
		if len(evs) != perGateway {
			t.Errorf("printer %s: %d events stored, want %d (each once)", gw.printer, len(evs), perGateway)
		}
	}
	// A burst: the two writers share the durable consumer, several
	// messages in flight each, and every record is applied by one of them,
	// once: together they applied each record exactly once.
	const burst = 30
	errs := make(chan error, len(gws))
	for g, gw := range gws {
		go func() {
			for k := range burst {
				var batch uplink.Batch
				for seq := uint64(100 + 10*k); seq < uint64(110+10*k); seq++ {
					batch.Records = append(batch.Records, fleet.Record{Seq: seq, Kind: fleet.KindEvent, PrinterID: gw.printer, Time: now,
						Event: &fleet.Event{Seq: seq, Code: "LAYER_DONE", Description: "layer done", Severity: fleet.SeverityInfo, Time: now}})
				}
				if _, err := clients[(g+k)%2].Upload(ctx, gw.cred, batch); err != nil {
					errs <- fmt.Errorf("burst upload %d of gateway %d: %w", k, g, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range gws {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	const records = 2 * (perGateway + 1 + burst*10)
	var applied []float64
	err = wait.Until(30*time.Second, 50*time.Millisecond, func() error {
		applied = []float64{counterValue(t, regs[0], "fusionfleet_store_records_applied_total"),
			counterValue(t, regs[1], "fusionfleet_store_records_applied_total")}
		if applied[0]+applied[1] < records {
			return fmt.Errorf("%v records applied", applied)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v, want %d in all", err, records)
	}
	time.Sleep(200 * time.Millisecond) // a record applied twice would show in the counters now
	applied = []float64{counterValue(t, regs[0], "fusionfleet_store_records_applied_total"),
		counterValue(t, regs[1], "fusionfleet_store_records_applied_total")}
	if applied[0]+applied[1] != records || applied[0] == 0 || applied[1] == 0 {
		t.Errorf("the nodes' writers applied %v records, want %d together, some by each", applied, records)
	}
	for _, gw := range gws {
		evs, err := nodes[1].store.Events(ctx, u.OrgID, gw.printer, now.Add(-time.Hour), now.Add(time.Hour), 1000)
		if err != nil || len(evs) != perGateway+burst*10 {
			t.Errorf("printer %s: %d events stored (%v), want %d", gw.printer, len(evs), err, perGateway+burst*10)
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

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// counterValue is the value of the counter name in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// logIn submits the dashboard's login form and fails the test unless it
// is accepted.
func logIn(t *testing.T, c *http.Client, base, user, password string) {
	t.Helper()
	code, page := get(t, c, base+"login")
	m := csrfField.FindStringSubmatch(page)
	if code != http.StatusOK || m == nil {
		t.Fatalf("login page: %d, no CSRF field", code)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"login", strings.NewReader(url.Values{
		"csrf": {m[1]}, "name": {user}, "password": {password},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", strings.TrimSuffix(base, "/"))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login as %s: %s", user, resp.Status)
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
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
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
