-- Remote diagnostics the cloud asked this site for (R-FEAT-7): the request
-- as received, the site's decision, where it stands, the last state the
-- cloud acknowledged (reported), and the filtered result the site sent,
-- kept so the customer sees exactly what left (R-PRIV-5). Times are Unix
-- nanoseconds.
CREATE TABLE diagnostics (
	id         TEXT PRIMARY KEY,
	request    TEXT NOT NULL, -- the request as JSON
	received   INTEGER NOT NULL,
	state      TEXT NOT NULL,
	reason     TEXT NOT NULL DEFAULT '',
	decided_by TEXT NOT NULL DEFAULT '',
	updated    INTEGER NOT NULL,
	reported   TEXT NOT NULL DEFAULT '',
	size       INTEGER NOT NULL DEFAULT 0,
	sha256     TEXT NOT NULL DEFAULT '',
	result     BLOB
);
CREATE INDEX diagnostics_received ON diagnostics (received);

-- The result's chunks, each marked once the cloud acknowledged it: an
-- upload cut by a crash or an outage resumes with the first unsent one.
CREATE TABLE diagnostic_chunks (
	id   TEXT NOT NULL REFERENCES diagnostics (id),
	idx  INTEGER NOT NULL,
	data BLOB NOT NULL,
	sent INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (id, idx)
);
