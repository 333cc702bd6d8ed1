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
package deviceapi
