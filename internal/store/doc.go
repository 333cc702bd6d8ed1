// Package store is the cloud's store, written once over database/sql for
// two engines: an embedded SQLite file (modernc, opened by package
// sqlitedb) or a PostgreSQL database (pgx's database/sql driver). It keeps
// tenants (organisations, sites, users), login sessions, gateway
// enrolment, the idempotent ingest of uplink envelopes, the printer read
// model, KPI rollups, alerts and notifications. Open picks the engine from
// the name: a postgres:// or postgresql:// URL, or else a file path.
//
// Every statement is written once with ? placeholders. A small dialect
// holds what really differs: PostgreSQL's $n placeholders (each statement
// rebound once and cached), the JSON accessor, the larger-of-two function,
// row locks (FOR UPDATE … on PostgreSQL, where writers run side by side;
// SQLite's write transactions are immediate, so one writer runs at a time),
// advisory locks for rollups built by several nodes, unique-violation
// detection, bulk load (COPY on PostgreSQL, falling back to INSERT … ON
// CONFLICT for a resend; prepared multi-row inserts on SQLite), and the
// monthly partitions of layers and log lines on PostgreSQL with their
// retention (see Prune).
//
// The ingest path (ApplyEnvelope, and ApplyEnvelopes for a group commit of
// several) marks received records and upserts the envelope's printers in
// one statement each, prepares its statements once on SQLite (pgx caches
// them per connection on PostgreSQL), and remembers where printers are:
// the store's own check in the printer upsert stays the authority (see
// placeCache). What it keeps does not depend on the order in which
// envelopes arrive, so several writers may apply them side by side.
//
// Times are Unix nanoseconds in BIGINT columns on both engines. Secrets
// are never stored in the clear: sessions and enrolment tokens are looked
// up by the SHA-256 of the token, passwords are argon2id hashes made by the
// caller.
//
// # Migrations
//
// Schema changes are the numbered files of migrations/, one numbering for
// both engines, applied in order by Open in one transaction and recorded in
// store_migrations; on PostgreSQL the transaction first takes an advisory
// lock, so cloud nodes that start together migrate once. A line of a
// migration that ends in "-- sqlite" or "-- postgres" is run only on that
// engine (the marker is removed); every other line is run on both.
//
// Databases made by the two stores this package replaced recorded their
// versions in schema_migrations, each in its own numbering; Open moves
// them to store_migrations in this numbering (SQLite's was the same;
// PostgreSQL's first migration made the tables of migrations 1 and 3, and
// its later ones are one lower) and drops schema_migrations, so both kinds
// upgrade in place. testdata/legacy holds those stores' migrations, from
// which the upgrade test builds old databases.
package store
