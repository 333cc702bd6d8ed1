package uplink

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"filippo.io/age"
	"github.com/fusionfleet/fusionfleet/internal/fleet"
	"github.com/klauspost/compress/zstd"
)

// Air-gapped bundles (R-PEER-7). A site without internet exports its
// outbox as a bundle: the same signed batches it would upload, each signed
// with the gateway's enrolled key exactly as an upload is (sign), and a
// manifest that binds them, in order, to the gateway and the bundle's
// serial number, signed with the same key. The whole is encrypted to the
// cloud's age recipient, so a bundle on a USB stick reveals nothing and
// only the cloud it was made for can read it. Its plaintext is
//
//	{"batches":[{"timestamp":"…","signature":"…","encoding":"zstd","body":"…"},…],
//	 "manifest":{…},"signature":"…"}
//
// The cloud (Importer) verifies everything before it publishes anything,
// then publishes each batch as an upload is published, so the store's
// (gateway, seq) dedup keeps every record once, whichever path brought it
// first.

// BundleFormat names version 1 of the bundle format.
const BundleFormat = "fusionfleet-bundle-v1"

// AckFormat names version 1 of the acknowledgement file.
const AckFormat = "fusionfleet-ack-v1"

// BundleManifest is what the site signs for the bundle as a whole.
type BundleManifest struct {
	Format    string          `json:"format"` // BundleFormat
	GatewayID fleet.GatewayID `json:"gateway_id"`
	// Serial numbers the site's bundles: each export takes the next. The
	// cloud refuses a bundle older than the newest it imported.
	Serial  uint64 `json:"serial"`
	Created int64  `json:"created"` // Unix seconds
	Records int    `json:"records"`
	// Batches is the hex SHA-256 of each batch's body, in order.
	Batches []string `json:"batches"`
}

// SignedBatch is one batch of a bundle: an upload's body and headers.
type SignedBatch struct {
	Timestamp string `json:"timestamp"` // HeaderTimestamp
	Signature string `json:"signature"` // HeaderSignature
	Encoding  string `json:"encoding"`  // Content-Encoding
	Body      []byte `json:"body"`
}

// bundleDoc is a bundle's plaintext.
type bundleDoc struct {
	Batches   []SignedBatch   `json:"batches"`
	Manifest  json.RawMessage `json:"manifest"`
	Signature string          `json:"signature"`
}

// The domains of the manifest's and the acknowledgement's signatures:
// neither can pass for the other, nor for an upload's.
const (
	bundleSigDomain = "fusionfleet-bundle-v1\n"
	ackSigDomain    = "fusionfleet-ack-v1\n"
)

// maxBundleBatchBytes is the most JSON a batch of a bundle holds before
// compression: half what the cloud's stream takes in one message by
// default, so that no batch is refused for its size, as an upload would
// be split after a 413.
const maxBundleBatchBytes = 4 << 20

// BundleWriter writes a bundle batch by batch, so that an outbox of any
// size is exported in bounded memory. Close writes the manifest.
type BundleWriter struct {
	maxBatch int // maxBundleBatchBytes; smaller in tests
	cred     Credentials
	serial   uint64
	created  time.Time
	enc      io.WriteCloser // the age stream
	zw       *zstd.Encoder
	manifest BundleManifest
	err      error
}

// NewBundleWriter starts a bundle of cred's gateway, numbered serial, made
// at created, encrypted to the cloud's key and written to w.
func NewBundleWriter(w io.Writer, cloud CloudPublicKey, cred Credentials, serial uint64, created time.Time) (*BundleWriter, error) {
	switch {
	case cloud.Recipient == nil:
		return nil, errors.New("bundle: no cloud recipient")
	case len(cred.Key) != ed25519.PrivateKeySize || cred.GatewayID == "":
		return nil, errors.New("bundle: the gateway is not enrolled")
	case serial == 0:
		return nil, errors.New("bundle: serial must be above 0")
	}
	enc, err := age.Encrypt(w, cloud.Recipient)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	bw := &BundleWriter{maxBatch: maxBundleBatchBytes, cred: cred, serial: serial, created: created, enc: enc, zw: zw,
		manifest: BundleManifest{Format: BundleFormat, GatewayID: cred.GatewayID, Serial: serial, Created: created.Unix(), Batches: []string{}}}
	_, bw.err = io.WriteString(enc, `{"batches":[`)
	return bw, nil
}

// Add appends a batch of records in Seq order, compressed and signed as
// an upload.
func (bw *BundleWriter) Add(b Batch) error {
	if bw.err != nil {
		return bw.err
	}
	if len(b.Records) == 0 {
		return nil
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("bundle: encode batch: %w", err)
	}
	if len(raw) > bw.maxBatch && len(b.Records) > 1 {
		// Too large for one message of the cloud's stream: in halves.
		half := len(b.Records) / 2
		if err := bw.Add(Batch{Records: b.Records[:half]}); err != nil {
			return err
		}
		return bw.Add(Batch{Records: b.Records[half:]})
	}
	body := bw.zw.EncodeAll(raw, make([]byte, 0, len(raw)/4))
	ts := strconv.FormatInt(bw.created.Unix(), 10)
	sb, err := json.Marshal(SignedBatch{Timestamp: ts, Signature: sign(bw.cred.Key, string(bw.cred.GatewayID), ts, body), Encoding: CompressionZstd, Body: body})
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if len(bw.manifest.Batches) > 0 {
		sb = append([]byte{','}, sb...)
	}
	if _, err := bw.enc.Write(sb); err != nil {
		bw.err = fmt.Errorf("bundle: write: %w", err)
		return bw.err
	}
	sum := sha256.Sum256(body)
	bw.manifest.Batches = append(bw.manifest.Batches, hex.EncodeToString(sum[:]))
	bw.manifest.Records += len(b.Records)
	return nil
}

// Close signs and writes the manifest and ends the encryption. It does
// not close the underlying writer.
func (bw *BundleWriter) Close() error {
	if bw.err != nil {
		return bw.err
	}
	m, err := json.Marshal(bw.manifest)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(bw.cred.Key, append([]byte(bundleSigDomain), m...)))
	tail, err := json.Marshal(sig)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString(`],"manifest":`)
	buf.Write(m)
	buf.WriteString(`,"signature":`)
	buf.Write(tail)
	buf.WriteString(`}`)
	if _, err := bw.enc.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("bundle: write: %w", err)
	}
	if err := bw.enc.Close(); err != nil {
		return fmt.Errorf("bundle: write: %w", err)
	}
	bw.err = errors.New("bundle: closed")
	return nil
}

// Manifest returns what the bundle holds so far.
func (bw *BundleWriter) Manifest() BundleManifest { return bw.manifest }

// RefusedError says why a bundle or an acknowledgement file is refused:
// nothing of it was imported.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// ErrRefused matches every *RefusedError.
var ErrRefused = errors.New("refused")

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

func refused(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// decryptBundle decrypts a bundle with the cloud's identity, reading no
// more than limit bytes of plaintext.
func decryptBundle(r io.Reader, id *age.X25519Identity, limit int64) ([]byte, error) {
	dr, err := age.Decrypt(r, id)
	if err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
			return nil, refused("the bundle is not encrypted to this cloud's air-gap key: it was made for another cloud, or with an old key")
		}
		return nil, refused("not a FusionFleet bundle, or damaged: %v", err)
	}
	b, err := io.ReadAll(io.LimitReader(dr, limit+1))
	mbe, tooLarge := errors.AsType[*http.MaxBytesError](err)
	switch {
	case tooLarge:
		return nil, refused("the bundle exceeds %d bytes: export smaller bundles", mbe.Limit)
	case err != nil:
		return nil, refused("the bundle is truncated or damaged: %v", err)
	case int64(len(b)) > limit:
		return nil, refused("the bundle exceeds %d bytes: export smaller bundles", limit)
	}
	return b, nil
}

// DecodeBundle decodes a bundle's plaintext: its manifest, still to be
// verified, and its batches. It checks the form only.
func DecodeBundle(plain []byte) (BundleManifest, []SignedBatch, json.RawMessage, string, error) {
	var doc bundleDoc
	if err := decodeStrict(bytes.NewReader(plain), &doc); err != nil {
		return BundleManifest{}, nil, nil, "", refused("the bundle is malformed: %v", err)
	}
	var m BundleManifest
	if err := decodeStrict(bytes.NewReader(doc.Manifest), &m); err != nil {
		return BundleManifest{}, nil, nil, "", refused("the bundle's manifest is malformed: %v", err)
	}
	switch {
	case m.Format != BundleFormat:
		return BundleManifest{}, nil, nil, "", refused("the bundle's format is %q, this cloud reads %q", m.Format, BundleFormat)
	case m.GatewayID == "":
		return BundleManifest{}, nil, nil, "", refused("the bundle names no gateway")
	case m.Serial == 0:
		return BundleManifest{}, nil, nil, "", refused("the bundle has no serial number")
	case len(m.Batches) != len(doc.Batches):
		return BundleManifest{}, nil, nil, "", refused("the bundle holds %d batches, its manifest lists %d", len(doc.Batches), len(m.Batches))
	}
	return m, doc.Batches, doc.Manifest, doc.Signature, nil
}

// verifyManifest checks the manifest's signature by the gateway's key and
// that each batch is the one it lists.
func verifyManifest(pub []byte, raw json.RawMessage, sig string, m BundleManifest, batches []SignedBatch) error {
	s, err := base64.StdEncoding.DecodeString(sig)
	if len(pub) != ed25519.PublicKeySize || err != nil || len(s) != ed25519.SignatureSize ||
		!ed25519.Verify(pub, append([]byte(bundleSigDomain), raw...), s) {
		return refused("the bundle's signature is not gateway %s's: the bundle was altered, or made by another site", m.GatewayID)
	}
	for i, b := range batches {
		sum := sha256.Sum256(b.Body)
		if hex.EncodeToString(sum[:]) != m.Batches[i] {
			return refused("batch %d of the bundle is not the one its manifest lists: the bundle was altered", i)
		}
		if !verify(pub, string(m.GatewayID), b.Timestamp, b.Body, b.Signature) {
			return refused("batch %d of the bundle has a bad signature: the bundle was altered", i)
		}
	}
	return nil
}

// AckManifest is what an acknowledgement file says: the records of the
// gateway's bundle numbered Serial that the cloud holds durably, and
// those it refused for their content.
type AckManifest struct {
	Format    string                `json:"format"` // AckFormat
	GatewayID fleet.GatewayID       `json:"gateway_id"`
	OrgID     fleet.OrgID           `json:"org_id"`
	SiteID    fleet.SiteID          `json:"site_id"`
	Serial    uint64                `json:"serial"`
	Issued    int64                 `json:"issued"` // Unix seconds
	Held      []fleet.SeqRange      `json:"held"`
	Refused   []fleet.RefusedRecord `json:"refused,omitempty"`
}

// ackDoc is an acknowledgement file.
type ackDoc struct {
	Ack       json.RawMessage `json:"ack"`
	Signature string          `json:"signature"`
}

// SignAck encodes the acknowledgement file of imp, signed with key.
func SignAck(key CloudKey, imp fleet.BundleImport, issued time.Time) ([]byte, error) {
	held := imp.Held
	if held == nil {
		held = []fleet.SeqRange{}
	}
	m, err := json.Marshal(AckManifest{Format: AckFormat, GatewayID: imp.GatewayID, OrgID: imp.OrgID, SiteID: imp.SiteID,
		Serial: imp.Serial, Issued: issued.Unix(), Held: held, Refused: imp.Refused})
	if err != nil {
		return nil, fmt.Errorf("sign acknowledgement: %w", err)
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key.Signing, append([]byte(ackSigDomain), m...)))
	b, err := json.Marshal(ackDoc{Ack: m, Signature: sig})
	if err != nil {
		return nil, fmt.Errorf("sign acknowledgement: %w", err)
	}
	return append(b, '\n'), nil
}

// maxAckBytes bounds an acknowledgement file.
const maxAckBytes = 16 << 20

// VerifyAck decodes an acknowledgement file for gateway gw and checks the
// cloud's signature: a *RefusedError says why it is refused.
func VerifyAck(cloud CloudPublicKey, gw fleet.GatewayID, b []byte) (AckManifest, error) {
	if len(b) > maxAckBytes {
		return AckManifest{}, refused("the acknowledgement file exceeds %d bytes", maxAckBytes)
	}
	var doc ackDoc
	if err := decodeStrict(bytes.NewReader(b), &doc); err != nil {
		return AckManifest{}, refused("not an acknowledgement file, or truncated: %v", err)
	}
	s, err := base64.StdEncoding.DecodeString(doc.Signature)
	if len(cloud.AckKey) != ed25519.PublicKeySize || err != nil || len(s) != ed25519.SignatureSize ||
		!ed25519.Verify(cloud.AckKey, append([]byte(ackSigDomain), doc.Ack...), s) {
		return AckManifest{}, refused("the acknowledgement file's signature is not the cloud's: it was altered, or comes from another cloud")
	}
	var m AckManifest
	if err := decodeStrict(bytes.NewReader(doc.Ack), &m); err != nil {
		return AckManifest{}, refused("the acknowledgement is malformed: %v", err)
	}
	switch {
	case m.Format != AckFormat:
		return AckManifest{}, refused("the acknowledgement's format is %q, this Command Center reads %q", m.Format, AckFormat)
	case m.GatewayID != gw:
		return AckManifest{}, refused("the acknowledgement is for gateway %s, this Command Center is %s", m.GatewayID, gw)
	}
	imp := fleet.BundleImport{GatewayID: m.GatewayID, OrgID: m.OrgID, SiteID: m.SiteID, Serial: m.Serial, Held: m.Held}
	if err := imp.Validate(); err != nil {
		return AckManifest{}, refused("the acknowledgement is malformed: %v", err)
	}
	return m, nil
}
