// Package cloud is one cloud node as a library: Options → New → Run.
//
// A node serves, on one HTTPS listener, the uplink Command Centers upload
// to (/v1/), the signed update repository (/tuf/), and what people and
// their programs use: the dashboard, the REST API (/api/v1/), Prometheus
// metrics (/metrics) and readiness (/readyz). Uploads go into a JetStream
// stream (embedded, or an external cluster shared by several nodes), from
// which the SQL writer and the alert evaluator consume; the store is
// SQLite in the data directory or a PostgreSQL database shared by the
// nodes. Run runs every part as an actor of one errgroup: when one fails
// or the context ends, all stop, and the node closes its store, stream
// and listeners.
//
// New opens everything and reports a bad option or an unreachable store
// at once; Bootstrap creates the first organisation and admin of a fresh
// store. The command line only maps its flags to Options.
package cloud
