-- Printers of this site: the pinned certificate and the local truth.
CREATE TABLE printers (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	address          TEXT NOT NULL UNIQUE,
	fingerprint      TEXT NOT NULL,
	pinned_at        TEXT NOT NULL,
	added_at         TEXT NOT NULL,
	printer_id       TEXT NOT NULL DEFAULT '',
	name             TEXT NOT NULL DEFAULT '',
	model            TEXT NOT NULL DEFAULT '',
	firmware         TEXT NOT NULL DEFAULT '',
	identity         TEXT NOT NULL DEFAULT '', -- JSON deviceapi.Identity
	status           TEXT NOT NULL DEFAULT '', -- JSON deviceapi.Status, private names included (local only)
	instance         TEXT NOT NULL DEFAULT '',
	event_cursor     INTEGER NOT NULL DEFAULT 0,
	state            TEXT NOT NULL DEFAULT 'new',
	state_since      TEXT NOT NULL,
	last_error       TEXT NOT NULL DEFAULT '',
	last_error_at    TEXT NOT NULL DEFAULT '',
	last_seen        TEXT NOT NULL DEFAULT ''
) STRICT;

-- Records waiting for the cloud. seq is the gateway's sequence number.
CREATE TABLE outbox (
	seq     INTEGER PRIMARY KEY,
	record  TEXT NOT NULL, -- JSON fleet.Record
	created TEXT NOT NULL
) STRICT;

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

INSERT INTO meta (key, value) VALUES ('next_seq', '1');
