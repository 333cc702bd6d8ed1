// Package deviceapi is the printer's HTTPS API: the wire types, the server
// handler a printer mounts, the client a Command Center polls it with, and
// the certificate handling of pairing (a self-signed printer certificate,
// pinned by its SHA-256 fingerprint on first use, R-SEC-9, and the Command
// Center's client certificate, pinned the same way by the printer).
//
// Routes (all GET, all JSON, errors included as {"error": "..."}); all but
// the identity and the OpenAPI document are served only to a paired
// collector, anyone else is answered 401:
//
//	GET /v1/identity                           Identity              R-DATA-1
//	GET /v1/status                             Status                R-DATA-2
//	GET /v1/events?after=<seq>&limit=<n>       EventPage             R-DATA-3
//	GET /v1/jobs?after=<seq>&limit=<n>         JobPage (with parts)  R-DATA-4, 5
//	GET /v1/layers?after=<seq>&limit=<n>       LayerPage             R-DATA-6
//	GET /v1/counters                           fleet.Counters        R-DATA-7
//	GET /v1/consumables                        fleet.Consumables     R-DATA-8..11
//	GET /v1/logs/{log}?after=<seq>&limit=<n>   LogPage               R-DATA-12
//	GET /openapi.json                          the OpenAPI 3.1 document of all this
//
// Feeds are read with a cursor: the items with Seq > after, oldest first,
// at most limit (see Page for gaps and instances). Limits, default/max:
// events 100/1000, jobs 10/50, layers 500/5000, logs 200/2000 (the
// Default*Limit and Max*Limit constants). A limit outside 1..max, a
// malformed, repeated or unknown query parameter is answered 400; an
// unknown log 404 naming the known logs; another method 405; a URL over
// 1 KiB 414, headers over 8 KiB 431, a body over 1 KiB 413. The OpenAPI
// document is built from the same route table as the handler and from the
// wire types by reflection, so it cannot drift; it marks the fields of
// JobPrivate and PartPrivate with "x-private": true.
//
// One package owns both ends so the contract cannot drift.
//
// Pairing goes both ways (mutual TLS, each end pinning the other's
// self-signed certificate by fingerprint, no CA). A printer calls
// LoadOrCreateCertificate and OpenCollectors once at start (the same
// certificate and list on every later start) and serves NewHandler through
// NewServer, which asks clients for a certificate. A Command Center calls
// LoadOrCreateClientCertificate once and presents that certificate from
// every Client. The operator enters the Command Center's fingerprint at
// the printer (Collectors.Pair); the Command Center calls Probe to learn
// the fingerprint of the certificate a printer presents, has the operator
// confirm it, and then reads the printer only through a Client holding
// that pin. A printer whose certificate changes yields a *PinError
// (errors.Is ErrPinMismatch) and is not read until it is paired again; a
// printer that has not paired the Command Center yields a *NotPairedError
// (errors.Is ErrNotPaired) from every route but the public ones.
//
// The client trusts nothing it reads: answers are size-limited, decoded
// strictly (unknown fields and trailing data refused) and validated.
package deviceapi
