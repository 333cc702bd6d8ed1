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
package uplink
