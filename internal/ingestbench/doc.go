// Package ingestbench measures the cloud's ingest path end to end: many
// gateways uploading layer records over real TLS, one connection per
// payload, to the uplink handler, which acknowledges a batch once the
// embedded JetStream has stored it — next to publishing the same envelopes
// to JetStream directly, with the handler's pattern (one synchronous
// publish per batch, 32 at once) and asynchronously. Its harnesses (Ingest,
// IngestSQL) run under go test through thin Benchmark functions and in the
// bench command:
//
//	go test -run '^$' -bench '^BenchmarkIngest$' -benchtime 1000x ./internal/ingestbench
//
// Ingest's comment says what each reported figure means: records/s
// and CPU per record of each path (the uplink measured both with the
// gateways' encoding on the same cores and with it done ahead), their
// ratios to the raw synchronous publish, and the p50/p99 acknowledgement
// latency of uploads paced at half the measured end-to-end rate.
//
// IngestSQL follows the records on to rows committed in SQLite or
// PostgreSQL by the SQL writer, as the cloud node wires it, next to the
// engine's raw multi-row INSERT or COPY of the same number of layer rows
// and to the writer's work without the stream; BenchmarkIngestSoak runs
// the steady traffic of a given number of printers for a given time into
// one node's ingest (writer and alert evaluator) and reports whether the
// backlog stays flat.
package ingestbench
