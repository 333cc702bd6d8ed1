-- Idempotent enrolment: the gateway that consumed a token, so that the
-- same gateway retrying with the same key (its answer was lost) gets the
-- same identity back instead of a spent token. NULL for tokens used
-- before this migration: those stay spent.
ALTER TABLE enrolment_tokens ADD COLUMN gateway_id TEXT REFERENCES gateways (id);
