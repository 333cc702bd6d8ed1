package update

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func TestRoleOf(t *testing.T) {
	tests := map[string]string{
		"https://cc.local/tuf/metadata/timestamp.json":   "timestamp",
		"https://cc.local/tuf/metadata/12.targets.json":  "targets",
		"https://cc.local/tuf/metadata/2.root.json":      "root",
		"https://cc.local/tuf/metadata/3.snapshot.json":  "snapshot",
		"https://cc.local/tuf/targets/ab.firmware-1.bin": "",
		"https://cc.local/tuf/metadata/3.delegate.json":  "",
	}
	for url, want := range tests {
		if got := roleOf(url); got != want {
			t.Errorf("roleOf(%s) = %q, want %q", url, got, want)
		}
	}
}

// FuzzClassifyRefresh feeds arbitrary bytes, as a mirror could serve them,
// to the diagnosis of a refused refresh: it must never panic and must
// always give one of the refusal reasons.
func FuzzClassifyRefresh(f *testing.F) {
	root, seeds := signedMetadata(f)
	for _, b := range seeds {
		f.Add(b, uint8(0))
	}
	f.Add([]byte(`{"signed":{"_type":"timestamp"},"signatures":[{"keyid":"00","sig":"zz"}]}`), uint8(1))
	roles := []string{"timestamp", "snapshot", "targets", "root"}
	causes := []error{
		&metadata.ErrUnsignedMetadata{Msg: "fuzz"}, &metadata.ErrLengthOrHashMismatch{Msg: "fuzz"},
		&metadata.ErrBadVersionNumber{Msg: "fuzz"}, &tooLargeError{url: "x", limit: 10, complete: true},
		errors.New("fuzz"),
	}
	f.Fuzz(func(t *testing.T, data []byte, pick uint8) {
		role := roles[int(pick)%len(roles)]
		cause := causes[int(pick/4)%len(causes)]
		last := download{url: "https://mirror/tuf/metadata/" + role + ".json", data: data}
		err := classifyRefresh(cause, last, root)
		var re *RefusedError
		if !errors.As(err, &re) || !slices.Contains(RefusalReasons, re.Reason) {
			t.Fatalf("classifyRefresh gave %v", err)
		}
	})
}

// signedMetadata is a root trusting one ed25519 key for every role, and
// the four top-level metadata files signed by it, as a repository would
// serve them.
func signedMetadata(t testing.TB) (*metadata.Metadata[metadata.RootType], [][]byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadSigner(priv, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(24 * time.Hour)
	root := metadata.Root(expires)
	for _, role := range []string{metadata.ROOT, metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS} {
		if err := root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	var seeds [][]byte
	for _, md := range []interface {
		Sign(signature.Signer) (*metadata.Signature, error)
		ToBytes(bool) ([]byte, error)
	}{root, metadata.Timestamp(expires), metadata.Snapshot(expires), metadata.Targets(expires)} {
		if _, err := md.Sign(signer); err != nil {
			t.Fatal(err)
		}
		b, err := md.ToBytes(false)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return root, seeds
}
