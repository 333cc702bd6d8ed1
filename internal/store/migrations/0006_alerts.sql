-- Alerts: incidents found by alert rules (package alert), the custom
-- threshold rules of organisations, and the rules they muted.

-- One row per incident. resolved_at is 0 while the alert is active;
-- seen_at is when its rule last observed the printer (replays older than
-- it change nothing). acked_by and assignee are '' when unset.
CREATE TABLE alerts (
	id          TEXT PRIMARY KEY,
	org_id      TEXT NOT NULL REFERENCES orgs (id),
	site_id     TEXT NOT NULL,
	printer_id  TEXT NOT NULL,
	rule        TEXT NOT NULL,
	severity    INTEGER NOT NULL,
	title       TEXT NOT NULL,
	detail      TEXT NOT NULL,
	opened_at   BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL,
	resolved_at BIGINT NOT NULL DEFAULT 0,
	revision    INTEGER NOT NULL,
	seen_at     BIGINT NOT NULL,
	acked_by    TEXT NOT NULL DEFAULT '',
	acked_at    BIGINT NOT NULL DEFAULT 0,
	assignee    TEXT NOT NULL DEFAULT ''
);
-- At most one active alert per (printer, rule) of an organisation, whatever
-- node evaluates. The organisation is part of the key: a gateway reporting
-- a printer it does not own can neither block nor see its owner's alerts.
CREATE UNIQUE INDEX alerts_active_one ON alerts (org_id, printer_id, rule) WHERE resolved_at = 0;
CREATE INDEX alerts_printer_rule ON alerts (printer_id, rule, opened_at);
CREATE INDEX alerts_org_active ON alerts (org_id, resolved_at, opened_at);
CREATE INDEX alerts_org_opened ON alerts (org_id, opened_at);
CREATE INDEX alerts_rule_active ON alerts (rule) WHERE resolved_at = 0;

CREATE TABLE alert_rules (
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	site_id    TEXT NOT NULL DEFAULT '',
	metric     TEXT NOT NULL,
	comparison TEXT NOT NULL,
	threshold  DOUBLE PRECISION NOT NULL,
	severity   INTEGER NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX alert_rules_org ON alert_rules (org_id, created_at);

CREATE TABLE alert_mutes (
	org_id TEXT NOT NULL REFERENCES orgs (id),
	rule   TEXT NOT NULL,
	PRIMARY KEY (org_id, rule)
);

-- The offline sweep looks for printers by when they were last seen.
CREATE INDEX printers_last_seen ON printers (last_seen);
