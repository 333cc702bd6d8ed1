// Package postgres is the cloud's store on PostgreSQL: the same methods,
// behaviour and errors as package sqlite (both pass the storetest
// contract), for deployments that outgrow one file.
//
// Connections come from a pgxpool pool of at most Options.MaxConns.
//
// Times are Unix nanoseconds in BIGINT columns, as in the SQLite store, so
// both keep the same precision. Schema changes are embedded, numbered
// migrations that Open applies under an advisory lock, so cloud nodes that
// start together migrate once.
//
// Layers and device log lines, the bulk of the data, live in tables
// partitioned by month of their end time. Prune (run by the retention
// runner, once at start and then periodically) creates the partitions for
// the coming months and drops whole partitions that retention has passed;
// rows outside every partition land in a default partition, which Prune
// empties by row and from which a newly created partition takes its rows.
// Ingest writes each envelope in one transaction with one round trip per
// kind of statement: multi-row inserts from arrays for layers and log lines,
// pipelined statements for the rest.
//
// Where SQLite serialises writers, PostgreSQL runs them side by side: the
// identity methods keep the same guarantees with single conditional
// statements (a TOTP step or recovery code is spent once) and, for the
// last administrator check, a lock on the organisation's row.
package postgres
