package commandcenter

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/outbox"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/google/go-cmp/cmp"
)

// airgapCloud is a cloud's importer over in-memory parts, beside the
// site's store.
type airgapCloud struct {
	mu      sync.Mutex
	gw      fleet.Gateway
	latest  map[fleet.GatewayID]fleet.BundleImport
	records int // records published
	key     uplink.CloudKey
	im      *uplink.Importer
}

func (c *airgapCloud) Gateway(_ context.Context, id fleet.GatewayID) (fleet.Gateway, error) {
	if id != c.gw.ID {
		return fleet.Gateway{}, fleet.ErrNotFound
	}
	return c.gw, nil
}

func (c *airgapCloud) Enrol(context.Context, string, string, []byte, time.Time) (fleet.Gateway, error) {
	return fleet.Gateway{}, fleet.ErrInvalidToken
}

func (c *airgapCloud) PrinterPlaces(context.Context, fleet.OrgID, []fleet.PrinterID) (map[fleet.PrinterID]fleet.PrinterPlace, error) {
	return nil, nil
}

func (c *airgapCloud) Publish(_ context.Context, _ string, data []byte) error {
	env, err := fleet.DecodeEnvelope(data)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records += len(env.Records)
	return nil
}

func (c *airgapCloud) LatestBundleImport(_ context.Context, gw fleet.GatewayID) (fleet.BundleImport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	imp, ok := c.latest[gw]
	if !ok {
		return fleet.BundleImport{}, fleet.ErrNotFound
	}
	return imp, nil
}

func (c *airgapCloud) SaveBundleImport(_ context.Context, imp fleet.BundleImport) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latest[imp.GatewayID] = imp
	return nil
}

// newAirgapSite returns an enrolled site's store and the cloud it is
// enrolled with.
func newAirgapSite(t *testing.T) (*Store, *airgapCloud) {
	t.Helper()
	st, _ := openStore(t)
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCredentials(t.Context(), "gw-1", key); err != nil {
		t.Fatal(err)
	}
	ck, err := uplink.GenerateCloudKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &airgapCloud{gw: fleet.Gateway{ID: "gw-1", OrgID: "org-1", SiteID: "site-1", PublicKey: pub}, latest: map[fleet.GatewayID]fleet.BundleImport{}, key: ck}
	c.im = uplink.NewImporter(c, c, c, c, ck, uplink.ImporterOptions{Handler: uplink.HandlerOptions{Clock: clock.NewManual(t0.Add(time.Hour))}})
	return st, c
}

// export writes a bundle of st's outbox.
func export(t *testing.T, st *Store, cloud uplink.CloudPublicKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := st.ExportBundle(t.Context(), &buf, cloud, t0, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ackOf imports bundle into c and returns its acknowledgement file.
func (c *airgapCloud) ackOf(t *testing.T, bundle []byte) []byte {
	t.Helper()
	if _, err := c.im.Import(t.Context(), "org-1", bytes.NewReader(bundle)); err != nil {
		t.Fatal(err)
	}
	ack, err := c.im.AckFile(t.Context(), "org-1", "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	return ack
}

func appendGaps(t *testing.T, st *Store, from, to uint64) {
	t.Helper()
	var recs []fleet.Record
	for n := from; n <= to; n++ {
		recs = append(recs, gapRec(n))
	}
	if err := st.Outbox().Append(t.Context(), recs...); err != nil {
		t.Fatal(err)
	}
}

func TestAirgapExportImportAck(t *testing.T) {
	st, cloud := newAirgapSite(t)
	appendGaps(t, st, 1, 1200) // three batches
	var steps [][2]int
	var buf bytes.Buffer
	m, err := st.ExportBundle(t.Context(), &buf, cloud.key.Public(), t0, func(done, total int) { steps = append(steps, [2]int{done, total}) })
	if err != nil {
		t.Fatal(err)
	}
	if m.Records != 1200 || len(m.Batches) != 3 || m.Serial != 1 {
		t.Errorf("manifest: %d records in %d batches, serial %d; want 1200 in 3, serial 1", m.Records, len(m.Batches), m.Serial)
	}
	if diff := cmp.Diff([][2]int{{500, 1200}, {1000, 1200}, {1200, 1200}}, steps); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	// Records appended after the export are not acknowledged by it.
	appendGaps(t, st, 1201, 1210)
	ack := cloud.ackOf(t, buf.Bytes())
	if cloud.records != 1200 {
		t.Errorf("cloud published %d records, want 1200", cloud.records)
	}
	res, err := st.ImportAck(t.Context(), ack, cloud.key.Public(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(outbox.BundleAckResult{Deleted: 1200}, res); diff != "" {
		t.Errorf("ack (-want +got):\n%s", diff)
	}
	if n, _ := st.Outbox().PendingCount(t.Context()); n != 10 {
		t.Errorf("%d records pending, want the 10 appended after the export", n)
	}
	// The same file again: nothing more.
	again, err := st.ImportAck(t.Context(), ack, cloud.key.Public(), t0)
	if err != nil || !again.Again || again.Deleted != 0 {
		t.Errorf("ack again: %+v, %v; want nothing deleted", again, err)
	}
	// The next export carries what is left.
	m2, err := st.ExportBundle(t.Context(), &bytes.Buffer{}, cloud.key.Public(), t0, nil)
	if err != nil || m2.Records != 10 || m2.Serial != 2 {
		t.Errorf("second export: %+v, %v; want 10 records, serial 2", m2, err)
	}
}

func TestAirgapAckQuarantinesRefused(t *testing.T) {
	st, cloud := newAirgapSite(t)
	appendGaps(t, st, 1, 5)
	export(t, st, cloud.key.Public())
	ack, err := uplink.SignAck(cloud.key, fleet.BundleImport{GatewayID: "gw-1", OrgID: "org-1", SiteID: "site-1", Serial: 1,
		Held: []fleet.SeqRange{{First: 1, Last: 3}, {First: 5, Last: 5}}, Refused: []fleet.RefusedRecord{{Seq: 4, Reason: "printer of site-2"}}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.ImportAck(t.Context(), ack, cloud.key.Public(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(outbox.BundleAckResult{Deleted: 4, Quarantined: 1}, res); diff != "" {
		t.Errorf("ack (-want +got):\n%s", diff)
	}
	q, err := st.Outbox().Quarantined(t.Context())
	if err != nil || len(q) != 1 || q[0].FirstSeq != 4 || !strings.Contains(q[0].Reason, "printer of site-2") {
		t.Errorf("quarantine: %+v, %v", q, err)
	}
}

func TestAirgapAckRefusals(t *testing.T) {
	other, err := uplink.GenerateCloudKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ack  func(t *testing.T, st *Store, c *airgapCloud) []byte
		want string
	}{
		{"another cloud's", func(t *testing.T, st *Store, c *airgapCloud) []byte {
			b, _ := uplink.SignAck(other, fleet.BundleImport{GatewayID: "gw-1", OrgID: "org-1", SiteID: "site-1", Serial: 1, Held: []fleet.SeqRange{{First: 1, Last: 3}}}, t0)
			return b
		}, "not the cloud's"},
		{"another site's", func(t *testing.T, st *Store, c *airgapCloud) []byte {
			b, _ := uplink.SignAck(c.key, fleet.BundleImport{GatewayID: "gw-2", OrgID: "org-1", SiteID: "site-1", Serial: 1, Held: []fleet.SeqRange{{First: 1, Last: 3}}}, t0)
			return b
		}, "for gateway gw-2"},
		{"truncated", func(t *testing.T, st *Store, c *airgapCloud) []byte {
			b := c.ackOf(t, export(t, st, c.key.Public()))
			return b[:len(b)-5]
		}, "truncated"},
		{"tampered", func(t *testing.T, st *Store, c *airgapCloud) []byte {
			b := c.ackOf(t, export(t, st, c.key.Public()))
			return bytes.Replace(b, []byte(`"last":3`), []byte(`"last":2`), 1)
		}, "not the cloud's"},
		{"never exported", func(t *testing.T, st *Store, c *airgapCloud) []byte {
			b, _ := uplink.SignAck(c.key, fleet.BundleImport{GatewayID: "gw-1", OrgID: "org-1", SiteID: "site-1", Serial: 7, Held: []fleet.SeqRange{{First: 1, Last: 3}}}, t0)
			return b
		}, "never exported"},
		{"replayed older", func(t *testing.T, st *Store, c *airgapCloud) []byte {
			old := c.ackOf(t, export(t, st, c.key.Public()))
			newer := c.ackOf(t, export(t, st, c.key.Public()))
			if _, err := st.ImportAck(t.Context(), newer, c.key.Public(), t0); err != nil {
				t.Fatal(err)
			}
			appendGaps(t, st, 4, 4) // pending, so a wrong trim would show
			return old
		}, "older bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, c := newAirgapSite(t)
			appendGaps(t, st, 1, 3)
			ack := tt.ack(t, st, c)
			before, _ := st.Outbox().PendingCount(t.Context())
			_, err := st.ImportAck(t.Context(), ack, c.key.Public(), t0)
			var re *uplink.RefusedError
			if !errors.As(err, &re) || !strings.Contains(re.Reason, tt.want) {
				t.Fatalf("import: %v, want a refusal saying %q", err, tt.want)
			}
			if after, _ := st.Outbox().PendingCount(t.Context()); after != before {
				t.Errorf("a refused acknowledgement trimmed the outbox from %d to %d records", before, after)
			}
		})
	}
}

func TestAirgapCloudKey(t *testing.T) {
	st, c := newAirgapSite(t)
	if _, err := st.CloudKey(t.Context()); !errors.Is(err, ErrNoCloudKey) {
		t.Fatalf("cloud key before one is saved: %v", err)
	}
	if err := st.SaveCloudKey(t.Context(), c.key.Public()); err != nil {
		t.Fatal(err)
	}
	got, err := st.CloudKey(t.Context())
	if err != nil || got.Recipient.String() != c.key.Public().Recipient.String() {
		t.Fatalf("cloud key: %v, %v", got.Recipient, err)
	}
}
