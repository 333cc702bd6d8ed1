-- The cloud store's schema: the tables of the SQLite store, with layers and
-- log lines partitioned by month. Times are Unix nanoseconds.

CREATE TABLE orgs (
	id   TEXT PRIMARY KEY,
	name TEXT NOT NULL
);

CREATE TABLE sites (
	id     TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs (id),
	name   TEXT NOT NULL
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
	public_key BYTEA NOT NULL,
	revoked    BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX gateways_site ON gateways (site_id);

-- received makes ingest idempotent: one row per (gateway, record seq)
-- applied, kept by the record's observation time for retention.
CREATE TABLE received (
	gateway_id TEXT NOT NULL,
	seq        BIGINT NOT NULL,
	at         BIGINT NOT NULL,
	PRIMARY KEY (gateway_id, seq)
);
CREATE INDEX received_at ON received (at);

CREATE TABLE printers (
	id            TEXT PRIMARY KEY,
	org_id        TEXT NOT NULL REFERENCES orgs (id),
	site_id       TEXT NOT NULL REFERENCES sites (id),
	name          TEXT NOT NULL DEFAULT '',
	model         TEXT NOT NULL DEFAULT '',
	model_number  TEXT NOT NULL DEFAULT '',
	serial_number TEXT NOT NULL DEFAULT '',
	firmware      TEXT NOT NULL DEFAULT '',
	identity      TEXT NOT NULL DEFAULT '',
	identity_time BIGINT NOT NULL DEFAULT 0,
	last_seen     BIGINT NOT NULL
);
CREATE INDEX printers_org ON printers (org_id, name, id);

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
CREATE INDEX events_time ON events (time);

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
CREATE INDEX gaps_time ON gaps (time);

CREATE TABLE jobs (
	printer_id  TEXT NOT NULL REFERENCES printers (id),
	job_id      TEXT NOT NULL,
	org_id      TEXT NOT NULL REFERENCES orgs (id),
	created_at  BIGINT NOT NULL,
	report_time BIGINT NOT NULL,
	data        TEXT NOT NULL,
	PRIMARY KEY (printer_id, job_id)
);
CREATE INDEX jobs_org_created ON jobs (org_id, created_at);
CREATE INDEX jobs_printer_created ON jobs (printer_id, created_at);
CREATE INDEX jobs_created ON jobs (created_at);

CREATE TABLE parts (
	printer_id  TEXT NOT NULL REFERENCES printers (id),
	part_id     TEXT NOT NULL,
	job_id      TEXT NOT NULL,
	created_at  BIGINT NOT NULL,
	report_time BIGINT NOT NULL,
	data        TEXT NOT NULL,
	PRIMARY KEY (printer_id, part_id)
);
CREATE INDEX parts_job ON parts (printer_id, job_id);
CREATE INDEX parts_created ON parts (created_at);

-- Layers and log lines: partitioned by month (see package doc), idempotent
-- by the record that carried them. A primary key of a partitioned table
-- must hold the partition key.
CREATE TABLE layers (
	gateway_id   TEXT NOT NULL,
	record_seq   BIGINT NOT NULL,
	printer_id   TEXT NOT NULL,
	job_id       TEXT NOT NULL,
	seq          BIGINT NOT NULL,
	layer_index  INTEGER NOT NULL,
	size_mm2     DOUBLE PRECISION NOT NULL,
	duration_sec DOUBLE PRECISION NOT NULL,
	start_time   BIGINT NOT NULL,
	end_time     BIGINT NOT NULL,
	PRIMARY KEY (gateway_id, record_seq, end_time)
) PARTITION BY RANGE (end_time);
CREATE INDEX layers_job ON layers (printer_id, job_id, layer_index);
CREATE INDEX layers_end ON layers (end_time);
CREATE TABLE layers_default PARTITION OF layers DEFAULT;

CREATE TABLE logs (
	gateway_id TEXT NOT NULL,
	record_seq BIGINT NOT NULL,
	printer_id TEXT NOT NULL,
	log        TEXT NOT NULL,
	seq        BIGINT NOT NULL,
	time       BIGINT NOT NULL,
	text       TEXT NOT NULL,
	PRIMARY KEY (gateway_id, record_seq, time)
) PARTITION BY RANGE (time);
CREATE INDEX logs_printer ON logs (printer_id, log, time);
CREATE INDEX logs_time ON logs (time);
CREATE TABLE logs_default PARTITION OF logs DEFAULT;

CREATE TABLE counters_latest (
	printer_id TEXT PRIMARY KEY REFERENCES printers (id),
	time       BIGINT NOT NULL,
	data       TEXT NOT NULL
);
CREATE TABLE counters_history (
	printer_id TEXT NOT NULL REFERENCES printers (id),
	time       BIGINT NOT NULL,
	data       TEXT NOT NULL,
	PRIMARY KEY (printer_id, time)
);
CREATE INDEX counters_history_time ON counters_history (time);

CREATE TABLE consumables_latest (
	printer_id TEXT PRIMARY KEY REFERENCES printers (id),
	time       BIGINT NOT NULL,
	data       TEXT NOT NULL
);
CREATE TABLE consumables_history (
	printer_id TEXT NOT NULL REFERENCES printers (id),
	time       BIGINT NOT NULL,
	data       TEXT NOT NULL,
	PRIMARY KEY (printer_id, time)
);
CREATE INDEX consumables_history_time ON consumables_history (time);
