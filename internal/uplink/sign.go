package uplink

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// signedMessage is what the gateway signs for an upload, as HeaderSignature
// describes; body is the request body exactly as sent (compressed).
func signedMessage(gateway, timestamp string, body []byte) []byte {
	sum := sha256.Sum256(body)
	return []byte("fusionfleet-upload-v1\n" + gateway + "\n" + timestamp + "\n" + hex.EncodeToString(sum[:]))
}

func sign(key ed25519.PrivateKey, gateway, timestamp string, body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(key, signedMessage(gateway, timestamp, body)))
}

// verify reports whether sig is a valid signature by pub of the upload.
func verify(pub []byte, gateway, timestamp string, body []byte, sig string) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	s, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(s) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(pub), signedMessage(gateway, timestamp, body), s)
}

// HashToken returns the hex SHA-256 of an enrolment token: the cloud stores
// and looks up only this hash, never the token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
