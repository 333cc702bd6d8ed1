-- The audit log (R-SEC-7): per organisation an append-only chain of
-- entries numbered from 1 without gaps, each with the hash of the one
-- before and its own (package audit computes and checks them). The
-- operator's own chain has the organisation ''. No foreign key to orgs:
-- the operator's chain has no organisation, and it records an
-- organisation's deletion after the organisation is gone.
CREATE TABLE audit_log (
	org_id    TEXT NOT NULL,
	seq       BIGINT NOT NULL,
	time      BIGINT NOT NULL,
	actor_org TEXT NOT NULL,
	actor     TEXT NOT NULL,
	name      TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	grant_id  TEXT NOT NULL,
	detail    TEXT NOT NULL,
	prev      TEXT NOT NULL,
	hash      TEXT NOT NULL,
	PRIMARY KEY (org_id, seq)
);
CREATE INDEX audit_log_time ON audit_log (org_id, time);

-- audit_heads holds each chain's last entry. An append locks its row, so
-- appends to one chain from several nodes queue; verification compares
-- the chain's end with it, which reveals entries cut from the end.
CREATE TABLE audit_heads (
	org_id TEXT PRIMARY KEY,
	seq    BIGINT NOT NULL,
	hash   TEXT NOT NULL
);

-- The features an organisation's plan enables (R-FEAT-10), a bit set of
-- access.Feature; NULL is the default plan.
ALTER TABLE orgs ADD COLUMN features BIGINT;
