// Package ingestbench measures the cloud's ingest path end to end: many
// gateways uploading layer records over real TLS, one connection per
// payload, to the uplink handler, which acknowledges a batch once the
// embedded JetStream has stored it — next to publishing the same batches
// to JetStream directly. It holds benchmarks only:
//
//	go test -run '^$' -bench Ingest -benchtime 400x ./internal/ingestbench
//
// reports records/s of both paths, their ratio, and the p50/p99
// acknowledgement latency of uploads paced at half the measured rate.
package ingestbench
