package uplink

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// fakeGateways is an in-memory Gateways.
type fakeGateways struct {
	mu     sync.Mutex
	tokens map[string]bool // token hash → unused
	gws    map[fleet.GatewayID]fleet.Gateway
	err    error // returned by Gateway when set
	next   int
}

func newFakeGateways() *fakeGateways {
	return &fakeGateways{tokens: map[string]bool{}, gws: map[fleet.GatewayID]fleet.Gateway{}}
}

func (f *fakeGateways) addToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[HashToken(token)] = true
}

func (f *fakeGateways) add(gw fleet.Gateway) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gws[gw.ID] = gw
}

func (f *fakeGateways) Enrol(_ context.Context, tokenHash, name string, pub []byte, _ time.Time) (fleet.Gateway, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.tokens[tokenHash] {
		return fleet.Gateway{}, fleet.ErrInvalidToken
	}
	f.tokens[tokenHash] = false
	f.next++
	gw := fleet.Gateway{ID: fleet.GatewayID(fmt.Sprintf("gw-%d", f.next)), OrgID: "org-1", SiteID: "site-1", Name: name, PublicKey: pub}
	f.gws[gw.ID] = gw
	return gw, nil
}

func (f *fakeGateways) Gateway(_ context.Context, id fleet.GatewayID) (fleet.Gateway, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return fleet.Gateway{}, f.err
	}
	gw, ok := f.gws[id]
	if !ok {
		return fleet.Gateway{}, fleet.ErrNotFound
	}
	return gw, nil
}

type published struct {
	msgID string
	env   fleet.Envelope
}

// fakePublisher records what is published, or fails with err.
type fakePublisher struct {
	mu   sync.Mutex
	err  error
	msgs []published
	data [][]byte // the published bytes, as given
}

func (p *fakePublisher) Publish(_ context.Context, msgID string, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	var env fleet.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("fake publisher: %w", err)
	}
	p.msgs = append(p.msgs, published{msgID: msgID, env: env})
	p.data = append(p.data, data)
	return nil
}

// publishedData returns the bytes of every published message.
func (p *fakePublisher) publishedData() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.data...)
}

func (p *fakePublisher) published() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.msgs...)
}

var errStreamDown = errors.New("stream down")

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func statusRecord(seq uint64) fleet.Record {
	return fleet.Record{
		Seq: seq, Kind: fleet.KindStatus, PrinterID: "printer-0001", Time: t0,
		Status: &fleet.Status{PrinterID: "printer-0001", State: fleet.StatePrinting, Activity: "printing layer 3", Progress: 0.5, Time: t0},
	}
}

func batchOf(seqs ...uint64) Batch {
	var b Batch
	for _, s := range seqs {
		b.Records = append(b.Records, statusRecord(s))
	}
	return b
}

// newGateway registers a fresh gateway with gws and returns its credentials.
func newGateway(t *testing.T, gws *fakeGateways, id fleet.GatewayID) Credentials {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	gws.add(fleet.Gateway{ID: id, OrgID: "org-1", SiteID: "site-1", Name: string(id), PublicKey: pub})
	return Credentials{GatewayID: id, Key: key}
}

// fakePrinters is an in-memory Printers: the site each organisation's
// printers belong to, or err for every lookup.
type fakePrinters struct {
	mu    sync.Mutex
	err   error
	sites map[fleet.OrgID]map[fleet.PrinterID]fleet.SiteID
}

// place makes printer p of org belong to site.
func (f *fakePrinters) place(org fleet.OrgID, p fleet.PrinterID, site fleet.SiteID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sites == nil {
		f.sites = map[fleet.OrgID]map[fleet.PrinterID]fleet.SiteID{}
	}
	if f.sites[org] == nil {
		f.sites[org] = map[fleet.PrinterID]fleet.SiteID{}
	}
	f.sites[org][p] = site
}

func (f *fakePrinters) PrinterPlaces(_ context.Context, org fleet.OrgID, devices []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := map[fleet.PrinterID]fleet.PrinterPlace{}
	for _, p := range devices {
		out[p] = fleet.PrinterPlace{Key: p, SiteID: f.sites[org][p]}
	}
	return out, nil
}
