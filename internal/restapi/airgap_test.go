package restapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/storetest"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
	"github.com/google/go-cmp/cmp"
)

// storePublisher applies what the importer publishes to the store at
// once: the stream and the SQL writer in one step.
type storePublisher struct{ db *store.DB }

func (p storePublisher) Publish(ctx context.Context, _ string, data []byte) error {
	env, err := fleet.DecodeEnvelope(data)
	if err != nil {
		return err
	}
	_, err = p.db.ApplyEnvelope(ctx, env)
	return err
}

type airgapFixture struct {
	*fixture
	srv  *httptest.Server
	key  uplink.CloudKey
	cred uplink.Credentials
	root []byte // the update repository's root
}

// repoBundles makes update bundles of a repository directory.
type repoBundles struct{ dir string }

func (b repoBundles) UpdateBundle(ctx context.Context) (*update.Bundle, error) {
	return update.NewBundle(ctx, update.NewHandler(b.dir, update.HandlerOptions{}), nil)
}

func newAirgapFixture(t *testing.T) *airgapFixture {
	t.Helper()
	f := newFixture(t)
	key, err := uplink.GenerateCloudKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateEnrolmentToken(t.Context(), f.a.site, uplink.HashToken("tok"), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := f.db.Enrol(t.Context(), uplink.HashToken("tok"), "site a", pub, t0)
	if err != nil {
		t.Fatal(err)
	}
	deps := storeDeps(f.db)
	deps.Audit = f.audit
	deps.Airgap = uplink.NewImporter(f.db, f.db, storePublisher{f.db}, f.db, key, uplink.ImporterOptions{Handler: uplink.HandlerOptions{Clock: f.clock}})
	repo, err := updaterepo.InitRepo(t.TempDir(), updaterepo.RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rel := update.Release{Kind: update.KindFirmware, Version: "2.0", Models: []string{"M1"}}
	if _, err := repo.AddTarget(t.Context(), updaterepo.TargetName(rel, "fw.bin"), rel, strings.NewReader("image"), 5); err != nil {
		t.Fatal(err)
	}
	root, err := repo.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	deps.UpdateBundles = repoBundles{repo.Dir()}
	srv := httptest.NewServer(newHandler(deps, Options{Clock: f.clock}).mux())
	t.Cleanup(srv.Close)
	return &airgapFixture{fixture: f, srv: srv, key: key, cred: uplink.Credentials{GatewayID: gw.ID, Key: priv}, root: root}
}

// bundle exports records of a new printer at site a.
func (f *airgapFixture) bundle(t *testing.T, serial uint64, seqs ...uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw, err := uplink.NewBundleWriter(&buf, f.key.Public(), f.cred, serial, t0)
	if err != nil {
		t.Fatal(err)
	}
	var b uplink.Batch
	for _, s := range seqs {
		p := fleet.PrinterID("printer-airgapped")
		b.Records = append(b.Records, fleet.Record{Seq: s, Kind: fleet.KindStatus, PrinterID: p, Time: t0,
			Status: &fleet.Status{PrinterID: p, State: fleet.StateIdle, Time: t0}})
	}
	if err := bw.Add(b); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (f *airgapFixture) send(t *testing.T, method, path, secret string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestAirgapAPI(t *testing.T) {
	f := newAirgapFixture(t)
	admin := f.a.tokens["admin"]
	bundle := f.bundle(t, 1, 1, 2, 3)

	status, _, body := f.send(t, "POST", "/api/v1/airgap/bundles", admin, bundle)
	var res uplink.BundleResult
	if status != 200 || json.Unmarshal(body, &res) != nil || res.Records != 3 || res.AlreadyImported {
		t.Fatalf("import: %d %s", status, body)
	}
	if _, err := f.db.PrinterDetail(t.Context(), f.a.org, "printer-airgapped"); err != nil {
		t.Errorf("the bundle's printer is not in the store: %v", err)
	}
	status, _, body = f.send(t, "POST", "/api/v1/airgap/bundles", admin, bundle)
	if status != 200 || !strings.Contains(string(body), `"already_imported":true`) {
		t.Errorf("import again: %d %s", status, body)
	}

	status, hdr, body := f.send(t, "GET", "/api/v1/airgap/gateways/"+string(f.cred.GatewayID)+"/ack", admin, nil)
	if status != 200 || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("ack: %d %v %s", status, hdr, body)
	}
	ack, err := uplink.VerifyAck(f.key.Public(), f.cred.GatewayID, body)
	if err != nil || len(ack.Held) != 1 || ack.Held[0] != (fleet.SeqRange{First: 1, Last: 3}) {
		t.Errorf("ack: %+v, %v", ack, err)
	}

	status, _, body = f.send(t, "GET", "/api/v1/airgap/key", admin, nil)
	if k, err := uplink.ParseCloudPublicKey(body); status != 200 || err != nil || k.Recipient.String() != f.key.Public().Recipient.String() {
		t.Errorf("key: %d %v", status, err)
	}
	status, hdr, body = f.send(t, "GET", "/api/v1/airgap/updates", admin, nil)
	if status != 200 || hdr.Get("Content-Type") != "application/zip" {
		t.Fatalf("update bundle: %d %v", status, hdr)
	}
	got, err := update.ImportBundle(t.Context(), bytes.NewReader(body), int64(len(body)), t.TempDir(), f.root, time.Now())
	if err != nil || len(got) != 1 || got[0].Release.Version != "2.0" {
		t.Errorf("the update bundle imports as %+v, %v", got, err)
	}
}

func TestAirgapAPIRefusals(t *testing.T) {
	f := newAirgapFixture(t)
	good := f.bundle(t, 1, 1)
	tampered := bytes.Clone(good)
	tampered[len(tampered)-10] ^= 1
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   []byte
		status int
		want   string
	}{
		{"operator", "POST", "/api/v1/airgap/bundles", f.a.tokens["operator"], good, 403, ""},
		{"admin of some sites", "POST", "/api/v1/airgap/bundles", f.a.tokens["ladmin"], good, 403, ""},
		{"read token", "POST", "/api/v1/airgap/bundles", f.a.tokens["read"], good, 403, ""},
		{"another organisation's bundle", "POST", "/api/v1/airgap/bundles", f.b.tokens["admin"], good, 422, "not enrolled with this cloud"},
		{"tampered", "POST", "/api/v1/airgap/bundles", f.a.tokens["admin"], tampered, 422, "truncated or damaged"},
		{"empty", "POST", "/api/v1/airgap/bundles", f.a.tokens["admin"], []byte{}, 422, "not a FusionFleet bundle"},
		{"ack of another organisation's gateway", "GET", "/api/v1/airgap/gateways/" + string(f.cred.GatewayID) + "/ack", f.b.tokens["admin"], nil, 422, "not enrolled"},
		{"ack before any import", "GET", "/api/v1/airgap/gateways/" + string(f.cred.GatewayID) + "/ack", f.a.tokens["admin"], nil, 422, "no bundle"},
		{"key for a viewer", "GET", "/api/v1/airgap/key", f.a.tokens["viewer"], nil, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := f.send(t, tt.method, tt.path, tt.token, tt.body)
			if status != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("%s %s: %d %s, want %d %q", tt.method, tt.path, status, body, tt.status, tt.want)
			}
		})
	}
	if _, err := f.db.PrinterDetail(t.Context(), f.a.org, "printer-airgapped"); err == nil {
		t.Error("a refused bundle's printer is in the store")
	}
}

// A record uploaded online and carried in a bundle too is stored once:
// both paths publish the same gateway's sequence numbers, which the store
// keeps once.
func TestAirgapAPIExactlyOnceAcrossPaths(t *testing.T) {
	f := newAirgapFixture(t)
	p := fleet.PrinterID("printer-both-ways")
	event := func(seq uint64) fleet.Record {
		return storetest.EventRecord(seq, p, "E"+strconv.FormatUint(seq, 10), t0.Add(time.Duration(seq)*time.Minute))
	}
	// Online: seqs 1 and 2 arrive through the uplink, published as its
	// envelope.
	online := fleet.Envelope{OrgID: f.a.org, SiteID: f.a.site, GatewayID: f.cred.GatewayID, Records: []fleet.Record{event(1), event(2)}}
	if _, err := f.db.ApplyEnvelope(t.Context(), online); err != nil {
		t.Fatal(err)
	}
	// The bundle exported before the site came back online holds 1 to 3.
	var buf bytes.Buffer
	bw, err := uplink.NewBundleWriter(&buf, f.key.Public(), f.cred, 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.Add(uplink.Batch{Records: []fleet.Record{event(1), event(2), event(3)}}); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	if status, _, body := f.send(t, "POST", "/api/v1/airgap/bundles", f.a.tokens["admin"], buf.Bytes()); status != 200 {
		t.Fatalf("import: %d %s", status, body)
	}
	evs, err := f.db.Events(t.Context(), f.a.org, p, t0.Add(-time.Hour), t0.Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, e := range evs {
		codes = append(codes, e.Code)
	}
	slices.Sort(codes)
	if diff := cmp.Diff([]string{"E1", "E2", "E3"}, codes); diff != "" {
		t.Errorf("events stored (-want +got):\n%s", diff)
	}
}
