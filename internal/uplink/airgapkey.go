package uplink

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
)

// The cloud's air-gap key (R-PEER-7). Sites without internet carry their
// outbox to the cloud in bundles encrypted to the cloud's age X25519
// recipient, and carry back acknowledgement files the cloud signs with its
// Ed25519 key. The private half stays with the cloud in a key file; the
// public half (CloudPublicKey) is shown to administrators and handed to
// each air-gapped site.

// Headers of the key files: one "name: value" line each after them.
const (
	cloudKeyHeader    = "# FusionFleet cloud air-gap key: secret, keep it with the cloud only"
	cloudPublicHeader = "# FusionFleet cloud air-gap public key: give it to air-gapped sites"
)

// maxKeyFileBytes bounds a key file as read.
const maxKeyFileBytes = 4 << 10

// CloudKey is the private air-gap key of a cloud.
type CloudKey struct {
	Identity *age.X25519Identity // decrypts bundles
	Signing  ed25519.PrivateKey  // signs acknowledgement files
}

// CloudPublicKey is what a site needs of a cloud's air-gap key.
type CloudPublicKey struct {
	Recipient *age.X25519Recipient // bundles are encrypted to it
	AckKey    ed25519.PublicKey    // verifies acknowledgement files
}

// GenerateCloudKey returns a new key, the signing half from rand (nil: a
// secure source).
func GenerateCloudKey(rand io.Reader) (CloudKey, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return CloudKey{}, fmt.Errorf("generate air-gap key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return CloudKey{}, fmt.Errorf("generate air-gap key: %w", err)
	}
	return CloudKey{Identity: id, Signing: priv}, nil
}

// Public returns the key's public half.
func (k CloudKey) Public() CloudPublicKey {
	return CloudPublicKey{Recipient: k.Identity.Recipient(), AckKey: k.Signing.Public().(ed25519.PublicKey)}
}

// MarshalText encodes the private key file.
func (k CloudKey) MarshalText() ([]byte, error) {
	if k.Identity == nil || len(k.Signing) != ed25519.PrivateKeySize {
		return nil, errors.New("air-gap key: incomplete")
	}
	return fmt.Appendf(nil, "%s\nage-identity: %s\nack-signing-key: %s\n",
		cloudKeyHeader, k.Identity, base64.StdEncoding.EncodeToString(k.Signing.Seed())), nil
}

// MarshalText encodes the public key file.
func (k CloudPublicKey) MarshalText() ([]byte, error) {
	if k.Recipient == nil || len(k.AckKey) != ed25519.PublicKeySize {
		return nil, errors.New("air-gap public key: incomplete")
	}
	return fmt.Appendf(nil, "%s\nage-recipient: %s\nack-public-key: %s\n",
		cloudPublicHeader, k.Recipient, base64.StdEncoding.EncodeToString(k.AckKey)), nil
}

// ParseCloudKey decodes a private key file.
func ParseCloudKey(b []byte) (CloudKey, error) {
	f, err := keyFields(b, cloudKeyHeader, "age-identity", "ack-signing-key")
	if err != nil {
		return CloudKey{}, fmt.Errorf("air-gap key: %w", err)
	}
	id, err := age.ParseX25519Identity(f["age-identity"])
	if err != nil {
		return CloudKey{}, fmt.Errorf("air-gap key: age-identity: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(f["ack-signing-key"])
	if err != nil || len(seed) != ed25519.SeedSize {
		return CloudKey{}, fmt.Errorf("air-gap key: ack-signing-key: want %d bytes of Ed25519 seed in base64", ed25519.SeedSize)
	}
	return CloudKey{Identity: id, Signing: ed25519.NewKeyFromSeed(seed)}, nil
}

// ParseCloudPublicKey decodes a public key file.
func ParseCloudPublicKey(b []byte) (CloudPublicKey, error) {
	f, err := keyFields(b, cloudPublicHeader, "age-recipient", "ack-public-key")
	if err != nil {
		return CloudPublicKey{}, fmt.Errorf("air-gap public key: %w", err)
	}
	r, err := age.ParseX25519Recipient(f["age-recipient"])
	if err != nil {
		return CloudPublicKey{}, fmt.Errorf("air-gap public key: age-recipient: %w", err)
	}
	pub, err := base64.StdEncoding.DecodeString(f["ack-public-key"])
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return CloudPublicKey{}, fmt.Errorf("air-gap public key: ack-public-key: want %d bytes of Ed25519 key in base64", ed25519.PublicKeySize)
	}
	return CloudPublicKey{Recipient: r, AckKey: pub}, nil
}

// keyFields reads the lines of a key file: header, then exactly the named
// fields, once each.
func keyFields(b []byte, header string, names ...string) (map[string]string, error) {
	if len(b) > maxKeyFileBytes {
		return nil, fmt.Errorf("file exceeds %d bytes", maxKeyFileBytes)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() || strings.TrimSpace(sc.Text()) != header {
		return nil, fmt.Errorf("not a key file: want the first line %q", header)
	}
	f := map[string]string{}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || !slices.Contains(names, k) {
			return nil, fmt.Errorf("unexpected line %q", line)
		}
		if _, dup := f[k]; dup {
			return nil, fmt.Errorf("%s given twice", k)
		}
		f[k] = v
	}
	for _, n := range names {
		if f[n] == "" {
			return nil, fmt.Errorf("%s missing", n)
		}
	}
	return f, nil
}
