package main

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/commandcenter"
	"github.com/fusionfleet/fusionfleet/internal/printer"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// actor is a started part of the system that runs until stopped.
type actor struct {
	cancel context.CancelFunc
	done   chan error
}

func goRun(t *testing.T, run func(ctx context.Context) error) *actor {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	a := &actor{cancel: cancel, done: make(chan error, 1)}
	go func() { a.done <- run(ctx) }()
	t.Cleanup(func() { a.stop(t) })
	return a
}

func (a *actor) stop(t *testing.T) {
	t.Helper()
	if a.cancel == nil {
		return
	}
	a.cancel()
	a.cancel = nil
	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("did not stop within 30s")
	}
}

// eventually waits until cond holds, for what real servers bring about in
// their own time, and fails the test if it does not within timeout.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !holds(timeout, cond) {
		t.Fatalf("after %v: %s", timeout, what)
	}
}

// holds waits until cond holds (true) or timeout passed (false).
func holds(timeout time.Duration, cond func() bool) bool {
	return wait.Until(timeout, 50*time.Millisecond, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	}) == nil
}

var errNotYet = errors.New("not yet")

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// R-PEER-5 and the skeleton's "a cloud that is down": while the cloud is
// away the Command Center keeps every record in its outbox; when the cloud
// is back it uploads them, and the cloud ends up with every record of the
// gateway exactly once, with no hole.
func TestCloudOutageLosesNothing(t *testing.T) {
	dir := t.TempDir()
	logger := discardLogger()
	ctx := t.Context()

	p, err := startPrinter(ctx, printerConfig{
		dataDir: filepath.Join(dir, "printer"), listen: "127.0.0.1:0", logger: logger,
		opts: printer.Options{Name: "3DP 1", Seed: 7, Clock: clock.NewScaled(3600)},
	})
	if err != nil {
		t.Fatal(err)
	}
	goRun(t, p.run)

	cloudDir := filepath.Join(dir, "cloud")
	cloud, cloudRun := startCloud(t, cloudDir, "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}

	ui := freePort(t)
	cc, err := startCommandCenter(ctx, ccConfig{
		dataDir: filepath.Join(dir, "cc"), cloudURL: cloud.URL(), rootCAs: cloud.RootCAs(), enrolToken: token,
		name: "test", printers: []string{p.addr}, trustNew: true, uiHost: "127.0.0.1", uiFirst: ui, uiLast: ui,
		pollInterval: 20 * time.Millisecond, uploadInterval: 20 * time.Millisecond, priorityDelay: 20 * time.Millisecond,
		bulkInterval: 100 * time.Millisecond, maxBackoff: 500 * time.Millisecond, rateBytes: 1 << 20,
		clock: clock.Real{}, logger: logger, stdin: strings.NewReader(""), stdout: discardWriter{},
	})
	if err != nil {
		t.Fatal(err)
	}
	ccRun := goRun(t, cc.run)

	pending := func() int {
		n, err := cc.store.Outbox().PendingCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	received := func(db *sql.DB) []uint64 {
		t.Helper()
		// Layers and log lines are deduplicated in their own tables.
		rows, err := db.QueryContext(ctx, `SELECT seq FROM received UNION ALL SELECT record_seq FROM layers
			UNION ALL SELECT record_seq FROM logs ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var seqs []uint64
		for rows.Next() {
			var s uint64
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, s)
		}
		return seqs
	}
	cloudDB := func() *sql.DB {
		db, err := sql.Open("sqlite", filepath.Join(dir, "cloud", "cloud.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}()

	eventually(t, "the cloud received nothing", 30*time.Second, func() bool { return len(received(cloudDB)) >= 5 })

	// The cloud goes down; the site keeps collecting.
	cloudRun.stop(t)
	before := len(received(cloudDB))
	eventually(t, "no records piled up in the outbox during the outage", 30*time.Second, func() bool { return pending() >= 20 })

	// The cloud comes back on the same address and data.
	startCloud(t, cloudDir, strings.TrimPrefix(cloud.URL(), "https://"))
	eventually(t, "the outbox did not drain after the cloud returned", 60*time.Second, func() bool { return pending() == 0 })
	ccRun.stop(t)

	// Every sequence number the gateway ever gave out must reach the store.
	var next uint64
	ccDB, err := sql.Open("sqlite", filepath.Join(dir, "cc", "commandcenter.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ccDB.Close()
	if err := ccDB.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_seq'`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the cloud store did not catch up with the acknowledged records", 90*time.Second, func() bool {
		return uint64(len(received(cloudDB))) >= next-1
	})
	seqs := received(cloudDB)
	if got, want := uint64(len(seqs)), next-1; got != want {
		t.Errorf("cloud holds %d records, the gateway numbered %d", got, want)
	}
	if len(seqs) <= before {
		t.Fatalf("no records arrived after the outage (%d before, %d after)", before, len(seqs))
	}
	// Priority lanes send alerts and status ahead of older bulk records, so
	// arrival order is not seq order; what must hold is every seq, once.
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("cloud holds seq %d at position %d of the sorted seqs: want every seq from 1 once; got %v", s, i, seqs)
		}
	}
	t.Logf("%d records, %d of them sent after a cloud outage", len(seqs), len(seqs)-before)
}

// discardWriter drops output.
type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// A Command Center that crashed after the cloud consumed its enrolment token
// but before it saved its credentials enrols on the next start with the same
// token: the pending key was kept, and the cloud answers the same key with
// the same gateway.
func TestEnrolmentSurvivesLostAnswer(t *testing.T) {
	ctx := t.Context()
	cloud, _ := startCloud(t, t.TempDir(), "")
	_, _, token, err := cloud.DemoTenant(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The first start got as far as the cloud's answer, then died.
	dir := t.TempDir()
	st, err := commandcenter.Open(ctx, filepath.Join(dir, "commandcenter.db"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := st.PendingEnrolmentKey(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	client, err := uplink.NewClient(cloud.URL(), uplink.ClientOptions{RootCAs: cloud.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	first, err := client.Enrol(ctx, token, "site", key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}

	// The second start enrols with the same token and gets the same gateway.
	ui := freePort(t)
	cc, err := startCommandCenter(ctx, ccConfig{
		dataDir: dir, cloudURL: cloud.URL(), rootCAs: cloud.RootCAs(), enrolToken: token, name: "site",
		uiHost: "127.0.0.1", uiFirst: ui, uiLast: ui, clock: clock.Real{}, logger: discardLogger(),
		stdin: strings.NewReader(""), stdout: discardWriter{},
	})
	if err != nil {
		t.Fatalf("second start after a lost enrolment answer: %v", err)
	}
	id, _, ok, err := cc.store.Credentials(ctx)
	if err != nil || !ok || id != first.GatewayID {
		t.Errorf("credentials after the retry: %v %v %v; want gateway %s", id, ok, err, first.GatewayID)
	}
	goRun(t, cc.run)
}
