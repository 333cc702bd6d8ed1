-- Notifications: organisation channels (webhooks, shared mailboxes),
-- users' own notification preferences, and the delivery queue with its
-- log of attempts.

-- kind: 1 e-mail, 2 webhook (fleet.ChannelKind). secret signs webhook
-- requests; it is needed in clear for signing.
CREATE TABLE notify_channels (
	id           TEXT PRIMARY KEY,
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	kind         SMALLINT NOT NULL,
	name         TEXT NOT NULL,
	target       TEXT NOT NULL,
	secret       TEXT NOT NULL DEFAULT '',
	min_severity SMALLINT NOT NULL,
	created_at   BIGINT NOT NULL
);
CREATE INDEX notify_channels_org ON notify_channels (org_id, created_at);

CREATE TABLE notify_prefs (
	user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	enabled      BOOLEAN NOT NULL,
	email        TEXT NOT NULL,
	min_severity SMALLINT NOT NULL,
	lang         TEXT NOT NULL DEFAULT ''
);

-- notify_deliveries is the queue and its history: one row per alert
-- revision and recipient, ever. status: 1 pending, 2 sent, 3 failed,
-- 4 superseded (fleet.DeliveryStatus). A pending row is due at next_at and
-- belongs to the node that claimed it until lease_until. The delivery
-- keeps no link to a channel or user that may go away: the log outlives
-- them.
CREATE TABLE notify_deliveries (
	id          TEXT PRIMARY KEY,
	org_id      TEXT NOT NULL REFERENCES orgs (id),
	alert_id    TEXT NOT NULL,
	revision    INTEGER NOT NULL,
	target_key  TEXT NOT NULL,
	kind        SMALLINT NOT NULL,
	target      TEXT NOT NULL,
	channel_id  TEXT NOT NULL DEFAULT '',
	user_id     TEXT NOT NULL DEFAULT '',
	lang        TEXT NOT NULL DEFAULT '',
	alert       TEXT NOT NULL,
	status      SMALLINT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_at     BIGINT NOT NULL,
	lease_until BIGINT NOT NULL DEFAULT 0,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL,
	last_error  TEXT NOT NULL DEFAULT '',
	UNIQUE (org_id, alert_id, revision, target_key)
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (status, next_at);
CREATE INDEX notify_deliveries_org ON notify_deliveries (org_id, created_at);
CREATE INDEX notify_deliveries_alert ON notify_deliveries (org_id, alert_id, target_key);

-- status: 2 sent, 1 failed and retried later, 3 failed and given up.
CREATE TABLE notify_attempts (
	delivery_id TEXT NOT NULL REFERENCES notify_deliveries (id) ON DELETE CASCADE,
	attempt     INTEGER NOT NULL,
	at          BIGINT NOT NULL,
	status      SMALLINT NOT NULL,
	error       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX notify_attempts_at ON notify_attempts (at);
