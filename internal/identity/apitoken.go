package identity

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
)

// APITokenPrefix starts every API token, so that secret scanners can find
// leaked ones.
const APITokenPrefix = "ffat_"

// An API token is APITokenPrefix, 32 random bytes in base64url (43
// characters) and the CRC-32 of those characters (6 characters): the
// checksum lets scanners and the server tell a real token from a typo
// without a database lookup.
const apiTokenLen = len(APITokenPrefix) + 43 + 6

// NewAPIToken returns a fresh API token. Store only HashToken(token).
func NewAPIToken() (string, error) {
	body, err := NewToken()
	if err != nil {
		return "", fmt.Errorf("new api token: %w", err)
	}
	return APITokenPrefix + body + apiChecksum(body), nil
}

// ValidAPIToken reports whether s has the shape and checksum of an API
// token. It says nothing about whether the token exists.
func ValidAPIToken(s string) bool {
	if len(s) != apiTokenLen || !strings.HasPrefix(s, APITokenPrefix) {
		return false
	}
	body := s[len(APITokenPrefix) : len(s)-6]
	if _, err := base64.RawURLEncoding.Strict().DecodeString(body); err != nil {
		return false
	}
	return s[len(s)-6:] == apiChecksum(body)
}

func apiChecksum(body string) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc32.ChecksumIEEE([]byte(body)))
	return base64.RawURLEncoding.EncodeToString(b[:])
}
