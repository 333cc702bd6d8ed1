package dashboard

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/fusionfleet/fusionfleet/internal/store"
	"github.com/fusionfleet/fusionfleet/internal/update"
	"github.com/fusionfleet/fusionfleet/internal/updaterepo"
	"github.com/fusionfleet/fusionfleet/internal/uplink"
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

// repoBundles makes update bundles of a repository directory.
type repoBundles struct{ dir string }

func (b repoBundles) UpdateBundle(ctx context.Context) (*update.Bundle, error) {
	return update.NewBundle(ctx, update.NewHandler(b.dir, update.HandlerOptions{}), nil)
}

// airgapFixture is the dashboard with a real importer over its store, an
// update repository with one release, and a gateway of org A's site.
func airgapFixture(t *testing.T) (*fixture, uplink.CloudKey, uplink.Credentials) {
	t.Helper()
	key, err := uplink.GenerateCloudKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := updaterepo.InitRepo(t.TempDir(), updaterepo.RepoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rel := update.Release{Kind: update.KindFirmware, Version: "2.0", Models: []string{"FF-4200"}}
	if _, err := repo.AddTarget(t.Context(), updaterepo.TargetName(rel, "fw.bin"), rel, strings.NewReader("image"), 5); err != nil {
		t.Fatal(err)
	}
	var db *store.DB
	f := newFixtureStore(t, func(d *Deps) {
		db = d.Sessions.(*store.DB)
		d.Airgap = uplink.NewImporter(db, db, storePublisher{db}, db, key, uplink.ImporterOptions{})
		d.UpdateBundles = repoBundles{repo.Dir()}
	})
	if err := db.CreateEnrolmentToken(t.Context(), f.siteA, uplink.HashToken("tok"), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := db.Enrol(t.Context(), uplink.HashToken("tok"), "site A", pub, t0)
	if err != nil {
		t.Fatal(err)
	}
	return f, key, uplink.Credentials{GatewayID: gw.ID, Key: priv}
}

func bundleOf(t *testing.T, key uplink.CloudKey, cred uplink.Credentials, serial uint64, seqs ...uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw, err := uplink.NewBundleWriter(&buf, key.Public(), cred, serial, t0)
	if err != nil {
		t.Fatal(err)
	}
	var b uplink.Batch
	for _, s := range seqs {
		p := fleet.PrinterID("printer-a-offline")
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

// upload posts file as the upload form does.
func upload(t *testing.T, c *http.Client, u, csrf string, file []byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.WriteField("csrf", csrf); err != nil {
		t.Fatal(err)
	}
	if file != nil {
		fw, err := mw.CreateFormFile("bundle", "site.bundle")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(file); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, u, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestAirgapPage(t *testing.T) {
	f, key, cred := airgapFixture(t)
	c, csrf := f.login(t, "ada")
	resp, page := get(t, c, f.srv.URL+"/admin/airgap")
	if resp.StatusCode != 200 || !strings.Contains(page, key.Public().Recipient.String()) || !strings.Contains(page, `enctype="multipart/form-data"`) {
		t.Fatalf("page: %s\n%.500s", resp.Status, page)
	}
	bundle := bundleOf(t, key, cred, 1, 1, 2, 3)
	status, body := upload(t, c, f.srv.URL+"/admin/airgap/bundles", csrf, bundle)
	if status != 200 || !strings.Contains(body, `data-records="3"`) || !strings.Contains(body, `data-already="false"`) {
		t.Fatalf("import: %d\n%.800s", status, body)
	}
	if status, body := upload(t, c, f.srv.URL+"/admin/airgap/bundles", csrf, bundle); status != 200 || !strings.Contains(body, `data-already="true"`) {
		t.Errorf("import again: %d\n%.800s", status, body)
	}
	resp, ack := get(t, c, f.srv.URL+"/admin/airgap/ack?gateway="+string(cred.GatewayID))
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("ack: %s %s", resp.Status, ack)
	}
	if m, err := uplink.VerifyAck(key.Public(), cred.GatewayID, []byte(ack)); err != nil || len(m.Held) != 1 || m.Held[0].Last != 3 {
		t.Errorf("ack: %+v, %v", m, err)
	}
	resp, pub := get(t, c, f.srv.URL+"/admin/airgap/key")
	if k, err := uplink.ParseCloudPublicKey([]byte(pub)); resp.StatusCode != 200 || err != nil || !k.AckKey.Equal(key.Public().AckKey) {
		t.Errorf("key: %s, %v", resp.Status, err)
	}
	if resp, zip := get(t, c, f.srv.URL+"/admin/airgap/updates"); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" || !strings.HasPrefix(zip, "PK") {
		t.Errorf("update bundle: %s %v", resp.Status, resp.Header)
	}
}

func TestAirgapPageRefusals(t *testing.T) {
	f, key, cred := airgapFixture(t)
	ada, adaCSRF := f.login(t, "ada")
	bob, bobCSRF := f.login(t, "bob")
	vic, vicCSRF := f.login(t, "vic")
	good := bundleOf(t, key, cred, 1, 1)
	tampered := bytes.Clone(good)
	tampered[len(tampered)-5] ^= 1
	tests := []struct {
		name   string
		c      *http.Client
		csrf   string
		file   []byte
		status int
		want   string
	}{
		{"no file", ada, adaCSRF, nil, 400, "Please choose the bundle file"},
		{"tampered", ada, adaCSRF, tampered, 422, "truncated or damaged"},
		{"not a bundle", ada, adaCSRF, []byte("hello"), 422, "not a FusionFleet bundle"},
		{"another organisation's", bob, bobCSRF, good, 422, "not enrolled with this cloud"},
		{"a viewer", vic, vicCSRF, good, 403, ""},
		{"no CSRF token", ada, "wrong", good, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := upload(t, tt.c, f.srv.URL+"/admin/airgap/bundles", tt.csrf, tt.file)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("upload: %d, want %d with %q\n%.800s", status, tt.status, tt.want, body)
			}
		})
	}
	if resp, body := get(t, bob, f.srv.URL+"/admin/airgap/ack?gateway="+string(cred.GatewayID)); resp.StatusCode != 422 || !strings.Contains(body, "not enrolled") {
		t.Errorf("another organisation's ack: %s\n%.500s", resp.Status, body)
	}
	if resp, body := get(t, ada, f.srv.URL+"/admin/airgap/ack?gateway="+string(cred.GatewayID)); resp.StatusCode != 422 || !strings.Contains(body, "no bundle") {
		t.Errorf("ack before any import: %s\n%.500s", resp.Status, body)
	}
	if _, err := f.db.PrinterDetail(t.Context(), f.orgA, "printer-a-offline"); err == nil {
		t.Error("a refused bundle's printer is in the store")
	}
}
