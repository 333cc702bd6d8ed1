-- The upload log records every transfer over the uplink, not only the
-- batches: kind is 'data' (a batch of records to the cloud) or 'mirror' (the
-- update mirror's fetch of signed metadata or a target from the cloud), and
-- path, for a fetch, what was fetched.
ALTER TABLE uploads ADD COLUMN kind TEXT NOT NULL DEFAULT 'data';
ALTER TABLE uploads ADD COLUMN path TEXT NOT NULL DEFAULT '';
