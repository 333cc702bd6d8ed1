-- Fleet data beyond status and events: jobs, parts, layers, counters,
-- consumables and device logs, and what retention needs to prune by time.

-- The latest full identity report, as JSON ('' until one arrived).
ALTER TABLE printers ADD COLUMN identity TEXT NOT NULL DEFAULT '';

-- When the record was observed, so the idempotency record can be pruned.
ALTER TABLE received ADD COLUMN at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX received_at ON received (at);

CREATE INDEX events_time ON events (time);
CREATE INDEX gaps_time ON gaps (time);

-- Jobs and parts: one row per (printer, id), the newest report wins.
-- report_time is the observation time of the record that wrote the row.
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

-- Layers and log lines are appended, idempotent by the record that carried
-- them; they are the bulk of the data and pruned first.
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
	end_time     BIGINT NOT NULL, -- sqlite
	PRIMARY KEY (gateway_id, record_seq) -- sqlite
); -- sqlite
	end_time     BIGINT NOT NULL, -- postgres
	PRIMARY KEY (gateway_id, record_seq, end_time) -- postgres
) PARTITION BY RANGE (end_time); -- postgres
CREATE INDEX layers_job ON layers (printer_id, job_id, layer_index);
CREATE INDEX layers_end ON layers (end_time);
CREATE TABLE layers_default PARTITION OF layers DEFAULT; -- postgres

CREATE TABLE logs (
	gateway_id TEXT NOT NULL,
	record_seq BIGINT NOT NULL,
	printer_id TEXT NOT NULL,
	log        TEXT NOT NULL,
	seq        BIGINT NOT NULL,
	time       BIGINT NOT NULL,
	text       TEXT NOT NULL, -- sqlite
	PRIMARY KEY (gateway_id, record_seq) -- sqlite
); -- sqlite
	text       TEXT NOT NULL, -- postgres
	PRIMARY KEY (gateway_id, record_seq, time) -- postgres
) PARTITION BY RANGE (time); -- postgres
CREATE INDEX logs_printer ON logs (printer_id, log, time);
CREATE INDEX logs_time ON logs (time);
CREATE TABLE logs_default PARTITION OF logs DEFAULT; -- postgres

-- Counters and consumables: the latest snapshot per printer, and every
-- snapshot for plots of wear over time.
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
