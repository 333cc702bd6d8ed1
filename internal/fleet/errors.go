package fleet

import "errors"

// Sentinel errors that callers across packages branch on. Map them to HTTP
// statuses once, at the edge.
var (
	ErrNotFound     = errors.New("not found")
	ErrInvalidToken = errors.New("invalid, used or expired token")
	ErrRevoked      = errors.New("revoked")
	ErrConflict     = errors.New("already exists")
)

// ErrRejected marks data a store refused for good: retrying cannot help.
var ErrRejected = errors.New("rejected for good")
