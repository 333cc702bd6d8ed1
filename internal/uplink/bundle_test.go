package uplink

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"

	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/fusionfleet/fusionfleet/internal/clock"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/google/go-cmp/cmp"
)

// fakeBundles is an in-memory BundleStore.
type fakeBundles struct {
	mu     sync.Mutex
	latest map[fleet.GatewayID]fleet.BundleImport
}

func (f *fakeBundles) LatestBundleImport(_ context.Context, gw fleet.GatewayID) (fleet.BundleImport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	imp, ok := f.latest[gw]
	if !ok {
		return fleet.BundleImport{}, fleet.ErrNotFound
	}
	return imp, nil
}

func (f *fakeBundles) SaveBundleImport(_ context.Context, imp fleet.BundleImport) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.latest == nil {
		f.latest = map[fleet.GatewayID]fleet.BundleImport{}
	}
	f.latest[imp.GatewayID] = imp
	return nil
}

func newCloudKey(t *testing.T) CloudKey {
	t.Helper()
	k, err := GenerateCloudKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeBundle returns a bundle of cred's records in batches, encrypted to
// cloud.
func writeBundle(t *testing.T, cloud CloudPublicKey, cred Credentials, serial uint64, batches ...Batch) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw, err := NewBundleWriter(&buf, cloud, cred, serial, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := bw.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rewrite decrypts a bundle, lets edit change its plaintext document and
// encrypts it again to the same cloud: a bundle altered by someone who
// could read it.
func rewrite(t *testing.T, key CloudKey, bundle []byte, edit func(doc *rawBundle)) []byte {
	t.Helper()
	plain, err := decryptBundle(bytes.NewReader(bundle), key.Identity, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var doc rawBundle
	if err := json.Unmarshal(plain, &doc); err != nil {
		t.Fatal(err)
	}
	edit(&doc)
	return encrypt(t, key.Public().Recipient, doc)
}

// rawBundle is a bundle's plaintext with its parts as they are encoded.
type rawBundle struct {
	Batches   []json.RawMessage `json:"batches"`
	Manifest  json.RawMessage   `json:"manifest"`
	Signature string            `json:"signature"`
}

func encrypt(t *testing.T, r age.Recipient, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type importerEnv struct {
	gws     *fakeGateways
	pub     *fakePublisher
	bundles *fakeBundles
	prs     *fakePrinters
	key     CloudKey
	im      *Importer
	cred    Credentials
}

func newImporterEnv(t *testing.T) *importerEnv {
	t.Helper()
	e := &importerEnv{gws: newFakeGateways(), pub: &fakePublisher{}, bundles: &fakeBundles{}, prs: &fakePrinters{}, key: newCloudKey(t)}
	e.cred = newGateway(t, e.gws, "gw-1")
	e.im = NewImporter(e.gws, e.prs, e.pub, e.bundles, e.key, ImporterOptions{Handler: HandlerOptions{Clock: clock.NewManual(t0.Add(48 * time.Hour))}})
	return e
}

func TestImportBundle(t *testing.T) {
	e := newImporterEnv(t)
	bundle := writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1, 2, 3), batchOf(5, 6))
	got, err := e.im.Import(t.Context(), "org-1", bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	want := BundleResult{Batches: 2, BundleImport: fleet.BundleImport{GatewayID: "gw-1", OrgID: "org-1", SiteID: "site-1", Serial: 1,
		Created: t0, Imported: t0.Add(48 * time.Hour), Records: 5, Held: []fleet.SeqRange{{First: 1, Last: 3}, {First: 5, Last: 6}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("import (-want +got):\n%s", diff)
	}
	var ids []string
	for _, p := range e.pub.published() {
		ids = append(ids, p.msgID)
		if p.env.GatewayID != "gw-1" || p.env.SiteID != "site-1" || p.env.OrgID != "org-1" {
			t.Errorf("envelope of %s: %+v", p.msgID, p.env)
		}
	}
	if diff := cmp.Diff([]string{"gw-1:1-3", "gw-1:5-6"}, ids); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}

	// Again: nothing changes.
	again, err := e.im.Import(t.Context(), "org-1", bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	if !again.AlreadyImported || len(e.pub.published()) != 2 {
		t.Errorf("re-import: already imported %v, %d messages published in all, want true and 2", again.AlreadyImported, len(e.pub.published()))
	}

	// The acknowledgement names what the cloud holds, signed.
	ackFile, err := e.im.AckFile(t.Context(), "org-1", "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	ack, err := VerifyAck(e.key.Public(), "gw-1", ackFile)
	if err != nil {
		t.Fatal(err)
	}
	wantAck := AckManifest{Format: AckFormat, GatewayID: "gw-1", OrgID: "org-1", SiteID: "site-1", Serial: 1, Issued: t0.Add(48 * time.Hour).Unix(), Held: want.Held}
	if diff := cmp.Diff(wantAck, ack); diff != "" {
		t.Errorf("ack (-want +got):\n%s", diff)
	}
}

func TestImportBundleRefusesOtherSitesRecords(t *testing.T) {
	e := newImporterEnv(t)
	other := statusRecord(2)
	other.PrinterID, other.Status.PrinterID = "printer-0002", "printer-0002"
	e.prs.place("org-1", "printer-0002", "site-2")
	bundle := writeBundle(t, e.key.Public(), e.cred, 1, Batch{Records: []fleet.Record{statusRecord(1), other, statusRecord(3)}})
	got, err := e.im.Import(t.Context(), "org-1", bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]fleet.SeqRange{{First: 1, Last: 1}, {First: 3, Last: 3}}, got.Held); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	if len(got.Refused) != 1 || got.Refused[0].Seq != 2 || !strings.Contains(got.Refused[0].Reason, "site-2") {
		t.Errorf("refused: %+v, want seq 2 of another site", got.Refused)
	}
	if n := len(e.pub.published()[0].env.Records); n != 2 {
		t.Errorf("published %d records, want 2", n)
	}
}

func TestImportBundleRefusals(t *testing.T) {
	foreignCloud := newCloudKey(t)
	_, strangerKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	future := statusRecord(2)
	future.Time = t0.Add(100 * 24 * time.Hour)
	future.Status.Time = future.Time
	tests := []struct {
		name   string
		org    fleet.OrgID
		before func(e *importerEnv) // imports before the one tested
		bundle func(e *importerEnv) []byte
		want   string // in the reason
	}{
		{name: "for another cloud", want: "not encrypted to this cloud's air-gap key", bundle: func(e *importerEnv) []byte {
			return writeBundle(t, foreignCloud.Public(), e.cred, 1, batchOf(1))
		}},
		{name: "not a bundle", want: "not a FusionFleet bundle", bundle: func(e *importerEnv) []byte {
			return []byte("PK\x03\x04 a zip file")
		}},
		{name: "truncated", want: "truncated or damaged", bundle: func(e *importerEnv) []byte {
			b := writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1, 2, 3))
			return b[:len(b)-20]
		}},
		{name: "ciphertext altered", want: "truncated or damaged", bundle: func(e *importerEnv) []byte {
			b := writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1, 2, 3))
			b[len(b)-30] ^= 1
			return b
		}},
		{name: "foreign gateway", want: "not enrolled with this cloud", bundle: func(e *importerEnv) []byte {
			return writeBundle(t, e.key.Public(), Credentials{GatewayID: "gw-elsewhere", Key: strangerKey}, 1, batchOf(1))
		}},
		{name: "another organisation's gateway", org: "org-2", want: "not enrolled with this cloud", bundle: func(e *importerEnv) []byte {
			return writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1))
		}},
		{name: "wrong key", want: "signature is not gateway gw-1's", bundle: func(e *importerEnv) []byte {
			return writeBundle(t, e.key.Public(), Credentials{GatewayID: "gw-1", Key: strangerKey}, 1, batchOf(1))
		}},
		{name: "batch swapped", want: "not the one its manifest lists", bundle: func(e *importerEnv) []byte {
			other := writeBundle(t, e.key.Public(), e.cred, 1, batchOf(7))
			var otherBatch json.RawMessage
			rewrite(t, e.key, other, func(doc *rawBundle) { otherBatch = doc.Batches[0] })
			return rewrite(t, e.key, writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1)), func(doc *rawBundle) {
				doc.Batches[0] = otherBatch
			})
		}},
		{name: "batch dropped", want: "its manifest lists 2", bundle: func(e *importerEnv) []byte {
			return rewrite(t, e.key, writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1), batchOf(2)), func(doc *rawBundle) {
				doc.Batches = doc.Batches[:1]
			})
		}},
		{name: "manifest altered", want: "signature is not gateway gw-1's", bundle: func(e *importerEnv) []byte {
			return rewrite(t, e.key, writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1)), func(doc *rawBundle) {
				doc.Manifest = bytes.Replace(doc.Manifest, []byte(`"serial":1`), []byte(`"serial":9`), 1)
			})
		}},
		{name: "replayed older", want: "older than bundle 2", before: func(e *importerEnv) {
			if _, err := e.im.Import(t.Context(), "org-1", bytes.NewReader(writeBundle(t, e.key.Public(), e.cred, 2, batchOf(4)))); err != nil {
				t.Fatal(err)
			}
		}, bundle: func(e *importerEnv) []byte {
			return writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1))
		}},
		{name: "a batch an upload would be refused for", want: "batch 1 of the bundle is refused", bundle: func(e *importerEnv) []byte {
			return writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1), Batch{Records: []fleet.Record{future}})
		}},
		{name: "made in the future", want: "ahead of the cloud's time", bundle: func(e *importerEnv) []byte {
			var buf bytes.Buffer
			bw, err := NewBundleWriter(&buf, e.key.Public(), e.cred, 1, t0.Add(100*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if err := bw.Add(batchOf(1)); err != nil {
				t.Fatal(err)
			}
			if err := bw.Close(); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}},
		{name: "revoked gateway", want: "revoked", before: func(e *importerEnv) {
			gw, _ := e.gws.Gateway(t.Context(), "gw-1")
			gw.Revoked = true
			e.gws.add(gw)
		}, bundle: func(e *importerEnv) []byte {
			return writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newImporterEnv(t)
			if tt.before != nil {
				tt.before(e)
			}
			before := len(e.pub.published())
			bundle := tt.bundle(e)
			org := tt.org
			if org == "" {
				org = "org-1"
			}
			_, err := e.im.Import(t.Context(), org, bytes.NewReader(bundle))
			var re *RefusedError
			if !errors.As(err, &re) || !errors.Is(err, ErrRefused) || !strings.Contains(re.Reason, tt.want) {
				t.Fatalf("import: %v, want a refusal saying %q", err, tt.want)
			}
			if n := len(e.pub.published()); n != before {
				t.Errorf("%d messages published by a refused bundle", n-before)
			}
		})
	}
}

func TestImportBundleStreamDown(t *testing.T) {
	e := newImporterEnv(t)
	e.pub.err = errStreamDown
	bundle := writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1))
	if _, err := e.im.Import(t.Context(), "org-1", bytes.NewReader(bundle)); !errors.Is(err, errStreamDown) || errors.Is(err, ErrRefused) {
		t.Fatalf("import: %v, want the stream's error", err)
	}
	if _, err := e.bundles.LatestBundleImport(t.Context(), "gw-1"); !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("a failed import was recorded: %v", err)
	}
	e.pub.err = nil
	if got, err := e.im.Import(t.Context(), "org-1", bytes.NewReader(bundle)); err != nil || got.AlreadyImported || got.Records != 1 {
		t.Fatalf("import once the stream is back: %+v, %v", got, err)
	}
}

func TestAckFileRefusals(t *testing.T) {
	key := newCloudKey(t)
	imp := fleet.BundleImport{GatewayID: "gw-1", OrgID: "org-1", SiteID: "site-1", Serial: 3, Held: []fleet.SeqRange{{First: 1, Last: 9}}}
	good, err := SignAck(key, imp, t0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := SignAck(newCloudKey(t), imp, t0)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(good, []byte(`"last":9`), []byte(`"last":99`), 1)
	if bytes.Equal(tampered, good) {
		t.Fatal("could not tamper with the ack")
	}
	tests := []struct {
		name string
		gw   fleet.GatewayID
		file []byte
		want string
	}{
		{"another cloud", "gw-1", other, "signature is not the cloud's"},
		{"tampered", "gw-1", tampered, "signature is not the cloud's"},
		{"truncated", "gw-1", good[:len(good)/2], "truncated"},
		{"another site's", "gw-2", good, "is for gateway gw-1"},
		{"empty", "gw-1", nil, "not an acknowledgement file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyAck(key.Public(), tt.gw, tt.file)
			var re *RefusedError
			if !errors.As(err, &re) || !strings.Contains(re.Reason, tt.want) {
				t.Fatalf("verify: %v, want a refusal saying %q", err, tt.want)
			}
		})
	}
	if _, err := VerifyAck(key.Public(), "gw-1", good); err != nil {
		t.Fatalf("verify the good file: %v", err)
	}
}

func TestCloudKeyFiles(t *testing.T) {
	key := newCloudKey(t)
	priv, err := key.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCloudKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if back.Identity.String() != key.Identity.String() || !back.Signing.Equal(key.Signing) {
		t.Error("private key file does not round-trip")
	}
	pub, err := key.Public().MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	pback, err := ParseCloudPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if pback.Recipient.String() != key.Identity.Recipient().String() || !pback.AckKey.Equal(key.Signing.Public()) {
		t.Error("public key file does not round-trip")
	}
	for name, b := range map[string][]byte{
		"private as public":  priv,
		"duplicate field":    append(append([]byte(nil), pub...), []byte("ack-public-key: AAAA\n")...),
		"missing field":      []byte(cloudPublicHeader + "\nage-recipient: " + key.Identity.Recipient().String() + "\n"),
		"bad recipient":      bytes.Replace(pub, []byte("age1"), []byte("age2"), 1),
		"unknown line":       append(append([]byte(nil), pub...), []byte("colour: blue\n")...),
		"too large":          bytes.Repeat([]byte("#"), maxKeyFileBytes+1),
		"ack key wrong size": []byte(cloudPublicHeader + "\nage-recipient: " + key.Identity.Recipient().String() + "\nack-public-key: AAAA\n"),
	} {
		if _, err := ParseCloudPublicKey(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func FuzzDecodeBundle(f *testing.F) {
	key, err := GenerateCloudKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	_, gk, _ := ed25519.GenerateKey(rand.Reader)
	var buf bytes.Buffer
	bw, err := NewBundleWriter(&buf, key.Public(), Credentials{GatewayID: "gw-1", Key: gk}, 1, t0)
	if err != nil {
		f.Fatal(err)
	}
	_ = bw.Add(batchOf(1, 2))
	_ = bw.Close()
	plain, err := decryptBundle(bytes.NewReader(buf.Bytes()), key.Identity, 1<<20)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add([]byte(`{"batches":[],"manifest":{"format":"fusionfleet-bundle-v1","gateway_id":"g","serial":1,"created":0,"records":0,"batches":[]},"signature":""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, batches, raw, sig, err := DecodeBundle(b)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("a decoding error that is no refusal: %v", err)
			}
			return
		}
		if len(m.Batches) != len(batches) || m.Serial == 0 || m.GatewayID == "" {
			t.Fatalf("accepted an inconsistent bundle: %+v", m)
		}
		// Whatever decodes is verified without panicking.
		_ = verifyManifest(gk.Public().(ed25519.PublicKey), raw, sig, m, batches)
	})
}

func FuzzVerifyAck(f *testing.F) {
	key, err := GenerateCloudKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	good, err := SignAck(key, fleet.BundleImport{GatewayID: "gw-1", OrgID: "o", SiteID: "s", Serial: 1, Held: []fleet.SeqRange{{First: 1, Last: 2}}}, t0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"ack":{},"signature":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := VerifyAck(key.Public(), "gw-1", b)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("a verification error that is no refusal: %v", err)
			}
			return
		}
		if m.GatewayID != "gw-1" || m.Format != AckFormat {
			t.Fatalf("accepted %+v", m)
		}
	})
}

func FuzzParseCloudPublicKey(f *testing.F) {
	key, err := GenerateCloudKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	pub, _ := key.Public().MarshalText()
	f.Add(pub)
	f.Add([]byte(cloudPublicHeader + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseCloudPublicKey(b)
		if err != nil {
			return
		}
		again, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseCloudPublicKey(again); err != nil {
			t.Fatalf("re-encoded key does not parse: %v", err)
		}
	})
}

func TestImportBundleTooLarge(t *testing.T) {
	e := newImporterEnv(t)
	im := NewImporter(e.gws, e.prs, e.pub, e.bundles, e.key, ImporterOptions{MaxBundleBytes: 100})
	bundle := writeBundle(t, e.key.Public(), e.cred, 1, batchOf(1, 2, 3))
	if _, err := im.Import(t.Context(), "org-1", bytes.NewReader(bundle)); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "exceeds 100 bytes") {
		t.Fatalf("import: %v, want a refusal for size", err)
	}
}

func TestBundleSplitsLargeBatches(t *testing.T) {
	e := newImporterEnv(t)
	var buf bytes.Buffer
	bw, err := NewBundleWriter(&buf, e.key.Public(), e.cred, 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	one, err := json.Marshal(batchOf(1))
	if err != nil {
		t.Fatal(err)
	}
	bw.maxBatch = 2 * len(one) // two records at most
	if err := bw.Add(batchOf(1, 2, 3, 4, 5)); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(bw.Manifest().Batches); n < 3 {
		t.Errorf("%d batches, want the 5 records split into at least 3", n)
	}
	got, err := e.im.Import(t.Context(), "org-1", bytes.NewReader(buf.Bytes()))
	if err != nil || got.Records != 5 || len(got.Held) != 1 || got.Held[0] != (fleet.SeqRange{First: 1, Last: 5}) {
		t.Errorf("import: %+v, %v; want records 1 to 5", got, err)
	}
}
