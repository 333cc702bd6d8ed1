-- Delivery: priority lanes, a disk budget, quarantine, the drop log and the
-- upload log ("what was sent", R-PRIV-5).

-- Columns of an outbox row the uploader selects and the budget evicts by,
-- so neither has to decode the record.
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN printer_id TEXT NOT NULL DEFAULT '';
-- 0 alert (event of severity warning or worse), 1 status (status, identity,
-- gap), 2 bulk (everything else).
ALTER TABLE outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 2;
-- The record's time in Unix milliseconds.
ALTER TABLE outbox ADD COLUMN observed INTEGER NOT NULL DEFAULT 0;
-- Bytes counted against the disk budget: the record plus a row overhead.
ALTER TABLE outbox ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
-- outbox_quarantine.id when the cloud refused the record's batch, 0 otherwise.
ALTER TABLE outbox ADD COLUMN quarantine INTEGER NOT NULL DEFAULT 0;

UPDATE outbox SET
	kind = COALESCE(json_extract(record, '$.kind'), ''),
	printer_id = COALESCE(json_extract(record, '$.printer_id'), ''),
	lane = CASE
		WHEN json_extract(record, '$.kind') = 'event'
			AND json_extract(record, '$.event.severity') IN ('warning', 'error', 'critical') THEN 0
		WHEN json_extract(record, '$.kind') IN ('status', 'identity', 'gap') THEN 1
		ELSE 2 END,
	observed = COALESCE(CAST(unixepoch(created, 'subsec') * 1000 AS INTEGER), 0),
	size = length(record) + 64;

CREATE INDEX outbox_by_lane ON outbox (lane, observed);

-- Running totals of the outbox, kept by triggers whatever path adds or
-- deletes rows.
CREATE TABLE outbox_usage (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	records INTEGER NOT NULL,
	bytes   INTEGER NOT NULL
) STRICT;
INSERT INTO outbox_usage (id, records, bytes) SELECT 1, COUNT(*), COALESCE(SUM(size), 0) FROM outbox;
CREATE TRIGGER outbox_usage_insert AFTER INSERT ON outbox BEGIN
	UPDATE outbox_usage SET records = records + 1, bytes = bytes + NEW.size WHERE id = 1;
END;
CREATE TRIGGER outbox_usage_delete AFTER DELETE ON outbox BEGIN
	UPDATE outbox_usage SET records = records - 1, bytes = bytes - OLD.size WHERE id = 1;
END;

-- Batches the cloud refused for their content (4xx): kept, not retried.
CREATE TABLE outbox_quarantine (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          TEXT NOT NULL,
	reason      TEXT NOT NULL,
	first_seq   INTEGER NOT NULL,
	last_seq    INTEGER NOT NULL,
	records     INTEGER NOT NULL,
	released_at TEXT NOT NULL DEFAULT ''
) STRICT;

-- Records dropped because the outbox ran out of its disk budget.
CREATE TABLE outbox_drops (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	at        TEXT NOT NULL,
	kind      TEXT NOT NULL,
	records   INTEGER NOT NULL,
	bytes     INTEGER NOT NULL,
	first_seq INTEGER NOT NULL,
	last_seq  INTEGER NOT NULL
) STRICT;

-- Every upload attempt: what it carried and what came of it.
CREATE TABLE uploads (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	at         TEXT NOT NULL,
	at_ms      INTEGER NOT NULL,
	lane       INTEGER NOT NULL,
	outcome    TEXT NOT NULL,
	error      TEXT NOT NULL DEFAULT '',
	records    INTEGER NOT NULL,
	kinds      TEXT NOT NULL, -- JSON {"kind": count}
	first_seq  INTEGER NOT NULL,
	last_seq   INTEGER NOT NULL,
	body_bytes INTEGER NOT NULL, -- compressed body
	wire_bytes INTEGER NOT NULL, -- TCP payload both ways, TLS handshake included
	payload    BLOB              -- zstd of the batch's JSON as sent; NULL when the upload failed
) STRICT;
CREATE INDEX uploads_by_time ON uploads (at_ms);
