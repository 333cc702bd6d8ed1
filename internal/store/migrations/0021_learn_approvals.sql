-- Approvals of learned parameter sets belong to an organisation
-- (R-FEAT-8): the proposals are fleet-wide, but approving one says that
-- this organisation adopts the set, and who of it did. approved_by is the
-- approving user's ID, approver the name they had then (as requested_by
-- and requester of diagnostics); approved_at is Unix nanoseconds.
CREATE TABLE learn_approvals (
	org_id      TEXT NOT NULL REFERENCES orgs (id),
	proposal_id TEXT NOT NULL REFERENCES learn_proposals (id),
	approved_by TEXT NOT NULL,
	approver    TEXT NOT NULL,
	approved_at BIGINT NOT NULL,
	PRIMARY KEY (org_id, proposal_id)
);

-- An approval made before was global and names no organisation. The
-- audit log names it: the dashboard recorded each one as
-- learning.approve in the approving organisation's chain. Those become
-- that organisation's; one the log does not hold is dropped, and its
-- proposal is open again for every organisation.
INSERT INTO learn_approvals (org_id, proposal_id, approved_by, approver, approved_at)
	SELECT a.org_id, a.target, a.actor, a.name, a.time FROM audit_log a
	WHERE a.action = 'learning.approve'
		AND a.org_id IN (SELECT id FROM orgs)
		AND a.target IN (SELECT id FROM learn_proposals WHERE state = 'approved')
		AND NOT EXISTS (SELECT 1 FROM audit_log b
			WHERE b.org_id = a.org_id AND b.action = a.action AND b.target = a.target AND b.seq < a.seq);

ALTER TABLE learn_proposals DROP COLUMN state;
ALTER TABLE learn_proposals DROP COLUMN approved_by;
ALTER TABLE learn_proposals DROP COLUMN approved_at;
