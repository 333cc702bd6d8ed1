-- The delivery log of an organisation (the notifications admin page) reads
-- its newest attempts. Attempts carry their delivery's organisation, so
-- that the read walks one index backwards and stops at the page's end
-- instead of joining and sorting every attempt of the organisation.
ALTER TABLE notify_attempts ADD COLUMN org_id TEXT NOT NULL DEFAULT '';
UPDATE notify_attempts SET org_id = (SELECT d.org_id FROM notify_deliveries d WHERE d.id = notify_attempts.delivery_id);
CREATE INDEX notify_attempts_org_at ON notify_attempts (org_id, at);
