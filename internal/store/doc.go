// Package sqlite is the cloud's store on an embedded SQLite database: tenants
// (organisations, sites, users), login sessions, gateway enrolment, the
// idempotent ingest of uplink envelopes and the printer read model the
// dashboard shows.
//
// The SQL is kept portable (plain types, ON CONFLICT upserts, times as Unix
// nanoseconds in BIGINT columns) because a PostgreSQL store with the same
// methods passes the same contract tests. Schema changes are embedded,
// numbered migrations applied in order by Open.
//
// Secrets are never stored in the clear: sessions and enrolment tokens are
// looked up by the SHA-256 of the token, passwords are argon2id hashes made
// by the caller.
package store
