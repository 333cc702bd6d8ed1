package fleet

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// NewID returns prefix + 32 random hex digits: the identifiers the cloud
// gives organisations, sites, users and gateways ("org_…", "usr_…").
func NewID(prefix string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}
