-- 1 for a status record that carries a change of its printer's state (a
-- state or a job other than its previous status record's): the uploader
-- sends it within a short delay instead of letting it wait for company.
ALTER TABLE outbox ADD COLUMN state_change INTEGER NOT NULL DEFAULT 0;
