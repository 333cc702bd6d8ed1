CREATE TABLE orgs (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL
);

CREATE TABLE sites (
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	name       TEXT NOT NULL
);
CREATE INDEX sites_org ON sites (org_id, name);

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	org_id        TEXT NOT NULL REFERENCES orgs (id),
	name          TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	role          INTEGER NOT NULL
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE sessions (
	token_hash TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE enrolment_tokens (
	token_hash TEXT PRIMARY KEY,
	site_id    TEXT NOT NULL REFERENCES sites (id),
	expires_at BIGINT NOT NULL,
	used_at    BIGINT
);

CREATE TABLE gateways (
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	site_id    TEXT NOT NULL REFERENCES sites (id),
	name       TEXT NOT NULL,
	public_key BLOB NOT NULL,
	revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX gateways_site ON gateways (site_id);

-- received makes ingest idempotent: one row per (gateway, record seq) ever applied.
CREATE TABLE received (
	gateway_id TEXT NOT NULL,
	seq        BIGINT NOT NULL,
	PRIMARY KEY (gateway_id, seq)
);

CREATE TABLE printers (
	id            TEXT PRIMARY KEY,
	org_id        TEXT NOT NULL REFERENCES orgs (id),
	site_id       TEXT NOT NULL REFERENCES sites (id),
	name          TEXT NOT NULL DEFAULT '',
	model         TEXT NOT NULL DEFAULT '',
	model_number  TEXT NOT NULL DEFAULT '',
	serial_number TEXT NOT NULL DEFAULT '',
	firmware      TEXT NOT NULL DEFAULT '',
	identity_time BIGINT NOT NULL DEFAULT 0,
	last_seen     BIGINT NOT NULL
);
CREATE INDEX printers_org ON printers (org_id, name);

CREATE TABLE printer_status (
	printer_id   TEXT PRIMARY KEY REFERENCES printers (id),
	state        INTEGER NOT NULL,
	activity     TEXT NOT NULL,
	job_id       TEXT NOT NULL,
	progress     DOUBLE PRECISION NOT NULL,
	etc_seconds  BIGINT NOT NULL,
	pending_jobs INTEGER NOT NULL,
	time         BIGINT NOT NULL
);

-- events are keyed by the record that carried them, so a printer whose own
-- event numbering restarts never collides with itself.
CREATE TABLE events (
	gateway_id  TEXT NOT NULL,
	record_seq  BIGINT NOT NULL,
	printer_id  TEXT NOT NULL REFERENCES printers (id),
	seq         BIGINT NOT NULL,
	code        TEXT NOT NULL,
	severity    INTEGER NOT NULL,
	description TEXT NOT NULL,
	subsystem   TEXT NOT NULL,
	firmware    TEXT NOT NULL,
	details     TEXT NOT NULL,
	time        BIGINT NOT NULL,
	PRIMARY KEY (gateway_id, record_seq)
);
CREATE INDEX events_printer_time ON events (printer_id, time);

-- gaps make feed data a gateway could not read visible.
CREATE TABLE gaps (
	gateway_id TEXT NOT NULL,
	record_seq BIGINT NOT NULL,
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	printer_id TEXT NOT NULL,
	feed       TEXT NOT NULL,
	reason     TEXT NOT NULL,
	from_seq   BIGINT NOT NULL,
	to_seq     BIGINT NOT NULL,
	time       BIGINT NOT NULL,
	PRIMARY KEY (gateway_id, record_seq)
);
CREATE INDEX gaps_printer_time ON gaps (printer_id, time);
