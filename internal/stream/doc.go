// Package stream is the cloud's durable message stream: NATS JetStream,
// either in a nats-server embedded in the process (one machine) or in an
// external NATS cluster (N stateless cloud nodes). The embedded server
// opens no network listener: the node reaches it in-process, and no other
// process of the host can. An external server is reached with the
// Credentials and TLS it requires.
//
// The uplink handler publishes every accepted batch with Publish, which
// returns once JetStream has stored it; a message ID makes a resend within
// the dedupe window (10 minutes) a no-op. Consume runs a durable pull
// consumer that any cloud node may share: messages are handed over one at a
// time, in order, acknowledged after the callback succeeds and redelivered
// after a short delay when it fails, so consumers must be idempotent.
// ConsumeBatches does the same for a consumer that keeps up with the whole
// fleet (the SQL writer): it hands over what is ready, up to a batch, fetches
// the next batch meanwhile, and acknowledges each message after the
// callback returned; nodes sharing it work side by side, so order is kept
// within a node only.
// Open and the consumers create or update the stream and their durable
// consumer, waiting up to a minute while a cluster that has just lost a
// node elects its leaders and cannot answer.
// Notify and Listen are plain NATS publish/subscribe for live fan-out to
// every node's dashboards; they are not durable. Ready answers a readiness
// probe; Metrics, given in Options, observe publish latency, consumer lag
// and redeliveries.
package stream
