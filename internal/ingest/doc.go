// Package ingest turns stream messages into stored fleet data: the SQL
// writer consumer of the cloud. It decodes each fleet.Envelope, re-checks
// every record, applies it idempotently to the store, and announces the
// change so that every cloud node can push it to its live dashboards.
package ingest
