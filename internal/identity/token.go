package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// tokenBytes is the entropy of a token: 256 bits.
const tokenBytes = 32

// NewToken returns a fresh random token: 32 bytes, base64url without padding.
// Store only HashToken(token); hand the token itself out once.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken returns the lowercase hex SHA-256 of token: the form in which
// session and enrolment tokens are stored and looked up. A token has 256
// bits of entropy, so a fast hash suffices.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// passwordAlphabet is Crockford-like base32 in lower case without the
// characters people confuse (no i, l, o, u): 32 symbols, 5 bits each.
const passwordAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

var passwordEncoding = base32.NewEncoding(passwordAlphabet).WithPadding(base32.NoPadding)

// GeneratePassword returns a random password a person can type: four groups
// of five characters from a 32-symbol alphabet separated by '-', e.g.
// "k3v9q-8m2xd-t0wfa-7hj4c": 20 symbols × 5 bits = 100 bits of entropy.
func GeneratePassword() (string, error) {
	b := make([]byte, 13) // 104 bits, enough for 20 symbols
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	s := passwordEncoding.EncodeToString(b)[:20]
	groups := []string{s[0:5], s[5:10], s[10:15], s[15:20]}
	return strings.Join(groups, "-"), nil
}
