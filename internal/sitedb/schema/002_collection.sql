-- Collection: where each feed of a printer continues, how a printer's name
-- resolved, what went wrong last, and the local history the site keeps for
-- its own UI (private names included: this file never leaves the site).

-- The events feed keeps its columns of 001 (instance, event_cursor).
ALTER TABLE printers ADD COLUMN jobs_instance    TEXT NOT NULL DEFAULT '';
ALTER TABLE printers ADD COLUMN jobs_cursor      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE printers ADD COLUMN layers_instance  TEXT NOT NULL DEFAULT '';
ALTER TABLE printers ADD COLUMN layers_cursor    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE printers ADD COLUMN log_positions    TEXT NOT NULL DEFAULT '{}'; -- JSON {log: {instance, cursor}}
ALTER TABLE printers ADD COLUMN snapshot_at      TEXT NOT NULL DEFAULT '';   -- counters and consumables last read
ALTER TABLE printers ADD COLUMN resolved_address TEXT NOT NULL DEFAULT '';
ALTER TABLE printers ADD COLUMN error_kind       TEXT NOT NULL DEFAULT '';

-- Events as read, for the local UI. seen is the gateway's time of reading.
CREATE TABLE events (
	printer  INTEGER NOT NULL REFERENCES printers (id) ON DELETE CASCADE,
	instance TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	seen     TEXT NOT NULL,
	event    TEXT NOT NULL, -- JSON fleet.Event
	PRIMARY KEY (printer, instance, seq)
) STRICT;
CREATE INDEX events_seen ON events (printer, seen);

-- Gaps in a printer's feeds, as recorded in the outbox.
CREATE TABLE gaps (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	printer INTEGER NOT NULL REFERENCES printers (id) ON DELETE CASCADE,
	seen    TEXT NOT NULL,
	gap     TEXT NOT NULL -- JSON fleet.Gap
) STRICT;
CREATE INDEX gaps_seen ON gaps (printer, seen);

-- The latest state of every job, with its parts and PRIVATE names (job,
-- user, computer, part names): the local UI shows them, the uplink never.
CREATE TABLE jobs (
	printer  INTEGER NOT NULL REFERENCES printers (id) ON DELETE CASCADE,
	job_id   TEXT NOT NULL,
	feed_seq INTEGER NOT NULL,
	updated  TEXT NOT NULL,
	job      TEXT NOT NULL, -- JSON deviceapi.Job, private names and parts included
	PRIMARY KEY (printer, job_id)
) STRICT;
CREATE INDEX jobs_updated ON jobs (printer, updated);

-- Snapshots over time, for plots.
CREATE TABLE counters_history (
	printer  INTEGER NOT NULL REFERENCES printers (id) ON DELETE CASCADE,
	seen     TEXT NOT NULL,
	counters TEXT NOT NULL, -- JSON fleet.Counters
	PRIMARY KEY (printer, seen)
) STRICT;

CREATE TABLE consumables_history (
	printer     INTEGER NOT NULL REFERENCES printers (id) ON DELETE CASCADE,
	seen        TEXT NOT NULL,
	consumables TEXT NOT NULL, -- JSON fleet.Consumables
	PRIMARY KEY (printer, seen)
) STRICT;
