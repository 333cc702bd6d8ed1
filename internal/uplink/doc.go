// Package uplink is the gateway↔cloud protocol: wire types, the client a
// Command Center uploads with, and the handler a cloud node mounts.
//
// Every connection is opened by the gateway (R-ARCH-3) over HTTPS, one
// connection per payload (R-ARCH-4), with the proxy from the environment
// (R-ARCH-5) and the cloud's certificate verified (R-SEC-1).
//
// Enrolment: the gateway sends a one-time enrolment token and a fresh
// Ed25519 public key to POST /v1/enrol; the cloud consumes the token and
// stores the key. Uploads: POST /v1/batches with the body signed by the
// gateway's key (headers below); the cloud answers 200 with an Ack only
// once the batch is durable in the stream. Replays are harmless: records are
// idempotent by (gateway, seq) and signatures older than the skew window are
// refused.
//
// Bodies are compressed with zstd (the client's default: smaller) or gzip.
// The signature covers the request body exactly as sent, that is the
// compressed stream, so the cloud checks who sent an upload before it
// decompresses a byte of it. Each gateway has token buckets of records and
// of decompressed bytes (refused bodies count too), and at most a few
// uploads in progress at once: a gateway above its rate, or with too many
// uploads in progress, is answered 429 with Retry-After. The cloud
// decodes the batch strictly: a field the schema does not name is refused
// with 400, naming the record and the field (the wire-level allow-list,
// R-PRIV-2), as is an invalid record or a Seq that does not rise within the
// batch. A printer belongs to the site whose gateway first reported it: a
// batch with records of a printer of another site of the gateway's
// organisation is refused with 400 naming those records in
// ErrorBody.Refused, so the gateway sets aside exactly those and sends the
// rest again; an administrator moves a printer between sites. Bodies, decompressed sizes and record counts are bounded (413:
// split the batch); a body decompresses to no more than the stream's
// largest message, so a compression bomb costs the cloud no more than the
// largest batch it could accept. A batch is published with the message ID
// "<gateway>:<first>-<last>", so a resend of the same batch is stored once.
// The published envelope splices in the records array as the gateway
// encoded it when that encoding is the canonical one the client produces
// (compact, schema keys spelled exactly, none repeated): byte for byte what
// re-encoding the validated records would give, at a fraction of the cost.
// Any other encoding is re-encoded from the decoded records.
// Retryable tells a gateway whether to try a failed request again.
//
// Metrics, given in HandlerOptions, count requests by route and code,
// records accepted, refusals by reason and bytes before and after
// decompression.
//
// Air-gapped sites (R-PEER-7, bundle.go): a BundleWriter writes the same
// signed batches into a bundle, with a signed manifest binding them to the
// gateway and a serial number, encrypted to the cloud's age recipient
// (CloudKey). The cloud's Importer verifies every signature and every
// batch as an upload's before it publishes anything, then publishes
// through the same envelope code, so the store keeps each record once
// whichever path brought it; it refuses foreign, altered, truncated and
// replayed bundles with a RefusedError that says why. SignAck and
// VerifyAck make and check the acknowledgement file the site trims its
// outbox by.
package uplink
