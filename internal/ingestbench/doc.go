// Package ingestbench measures the cloud's ingest path end to end: many
// gateways uploading layer records over real TLS, one connection per
// payload, to the uplink handler, which acknowledges a batch once the
// embedded JetStream has stored it — next to publishing the same envelopes
// to JetStream directly, with the handler's pattern (one synchronous
// publish per batch, 32 at once) and asynchronously. It holds benchmarks
// only:
//
//	go test -run '^$' -bench Ingest -benchtime 1000x ./internal/ingestbench
//
// BenchmarkIngest's comment says what each reported figure means: records/s
// and CPU per record of each path (the uplink measured both with the
// gateways' encoding on the same cores and with it done ahead), their
// ratios to the raw synchronous publish, and the p50/p99 acknowledgement
// latency of uploads paced at half the measured end-to-end rate.
package ingestbench
