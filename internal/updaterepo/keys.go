package updaterepo

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ErrMissingKey means a signing key a step needs is not in the repository's
// key directories: root and targets keys live offline with the release
// tool, snapshot and timestamp keys online with the cloud.
var ErrMissingKey = errors.New("signing key not available")

// Where keys live, relative to the repository directory. Offline keys
// (root, targets) never leave the release machine; online keys (snapshot,
// timestamp) are what the cloud holds to re-sign on a schedule.
const (
	offlineKeyDir = "keys/offline"
	onlineKeyDir  = "keys/online"
)

func keyDir(role string) string {
	if role == metadata.ROOT || role == metadata.TARGETS {
		return offlineKeyDir
	}
	return onlineKeyDir
}

// signingKey is an ed25519 private key with its TUF form and ID.
type signingKey struct {
	id     string
	key    *metadata.Key
	signer signature.Signer
}

func newSigningKey(priv ed25519.PrivateKey) (*signingKey, error) {
	k, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	id, err := k.ID()
	if err != nil {
		return nil, fmt.Errorf("key id: %w", err)
	}
	s, err := signature.LoadSigner(priv, crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return &signingKey{id: id, key: k, signer: s}, nil
}

// generateKey makes a new ed25519 key for role and stores it, PKCS#8 in
// PEM, readable by the owner only, as DIR/keys/{offline,online}/ROLE-ID.key.
func generateKey(repoDir, role string) (*signingKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", role, err)
	}
	k, err := newSigningKey(priv)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode %s key: %w", role, err)
	}
	dir := filepath.Join(repoDir, keyDir(role))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	name := filepath.Join(dir, fmt.Sprintf("%s-%s.key", role, k.id[:16]))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store %s key: %w", role, err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("store %s key: %w", role, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store %s key: %w", role, err)
	}
	return k, nil
}

// loadKeys returns the stored keys for role whose IDs are in want, keyed by
// ID. Key files of other roles or IDs (retired root keys, say) are skipped.
func loadKeys(repoDir, role string, want []string) (map[string]*signingKey, error) {
	dir := filepath.Join(repoDir, keyDir(role))
	names, err := filepath.Glob(filepath.Join(dir, role+"-*.key"))
	if err != nil {
		return nil, fmt.Errorf("list %s keys: %w", role, err)
	}
	keys := map[string]*signingKey{}
	for _, name := range names {
		if !wantsPrefix(want, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(name), role+"-"), ".key")) {
			continue
		}
		k, err := readKey(name)
		if err != nil {
			return nil, err
		}
		for _, id := range want {
			if id == k.id {
				keys[id] = k
			}
		}
	}
	return keys, nil
}

func wantsPrefix(ids []string, prefix string) bool {
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			return true
		}
	}
	return false
}

func readKey(name string) (*signingKey, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("key %s: not a PEM private key", filepath.Base(name))
	}
	priv, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", filepath.Base(name), err)
	}
	ed, ok := priv.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key %s: not an ed25519 key", filepath.Base(name))
	}
	return newSigningKey(ed)
}
