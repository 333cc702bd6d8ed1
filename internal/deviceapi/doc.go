// Package deviceapi is the printer's HTTPS API: the wire types, the server
// handler a printer mounts, the client a Command Center polls it with, and
// the certificate handling of pairing (a self-signed printer certificate,
// pinned by its SHA-256 fingerprint on first use, R-SEC-9).
//
// Routes (all JSON):
//
//	GET /v1/identity                      Identity
//	GET /v1/status                        Status
//	GET /v1/events?after=<seq>&limit=<n>  EventPage
//
// One package owns both ends so the contract cannot drift.
//
// Pairing: a printer calls LoadOrCreateCertificate once at start (the same
// certificate on every later start) and serves NewHandler through
// NewServer. A Command Center calls Probe to learn the fingerprint of the
// certificate a printer presents, has the operator confirm it, and then
// reads the printer only through a Client holding that pin. A printer whose
// certificate changes yields a *PinError (errors.Is ErrPinMismatch) and is
// not read until it is paired again.
//
// The client trusts nothing it reads: answers are size-limited, decoded
// strictly (unknown fields and trailing data refused) and validated.
package deviceapi
