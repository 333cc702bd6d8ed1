// Package storetest is the contract every cloud store meets: Run drives a
// store through tenants, sessions, enrolment, the idempotent ingest of every
// record kind, the dashboard's reads, tenant isolation and retention, and
// through identity: organisation kinds, users limited to sites, the last
// administrator, TOTP second factors and recovery codes spent once even
// under races, login challenges and API tokens. The SQLite and
// PostgreSQL stores both call Run from their tests, so they behave alike
// down to the errors they return.
//
// It is imported by tests only.
package storetest
