-- Remote diagnostics (R-FEAT-7): a request for a printer's logs, a
-- snapshot or a self-test, who made it, where it stands, and its result
-- in chunks as the site uploads them. device_id is the printer's own ID,
-- which the site's Command Center knows it by. logs is a comma-separated
-- list of log names.
CREATE TABLE diagnostics (
	id            TEXT PRIMARY KEY,
	org_id        TEXT NOT NULL REFERENCES orgs (id),
	site_id       TEXT NOT NULL REFERENCES sites (id),
	printer_id    TEXT NOT NULL REFERENCES printers (id),
	device_id     TEXT NOT NULL,
	kind          TEXT NOT NULL,
	logs          TEXT NOT NULL DEFAULT '',
	window_from   BIGINT NOT NULL DEFAULT 0,
	window_to     BIGINT NOT NULL DEFAULT 0,
	max_bytes     BIGINT NOT NULL,
	requested_by  TEXT NOT NULL,
	requester_org TEXT NOT NULL,
	requester     TEXT NOT NULL,
	grant_id      TEXT NOT NULL DEFAULT '',
	created       BIGINT NOT NULL,
	expires       BIGINT NOT NULL,
	state         TEXT NOT NULL,
	reason        TEXT NOT NULL DEFAULT '',
	updated       BIGINT NOT NULL,
	chunks        INTEGER NOT NULL DEFAULT 0,
	size          BIGINT NOT NULL DEFAULT 0,
	sha256        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX diagnostics_printer ON diagnostics (org_id, printer_id, created);
CREATE INDEX diagnostics_site_state ON diagnostics (site_id, state, created);

-- One row per chunk of a result, as uploaded: a chunk sent again is
-- stored once.
CREATE TABLE diagnostic_chunks (
	diagnostic_id TEXT NOT NULL REFERENCES diagnostics (id),
	idx           INTEGER NOT NULL,
	data          BLOB NOT NULL, -- sqlite
	data          BYTEA NOT NULL, -- postgres
	PRIMARY KEY (diagnostic_id, idx)
);
