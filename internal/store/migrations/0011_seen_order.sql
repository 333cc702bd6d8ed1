-- A printer's current status and last_seen follow the gateway's sequence
-- where the device's clock is wrong: a status dated in the future must not
-- freeze them. Each row remembers which record of which gateway set it.
-- Rows from before carry no gateway ('').
ALTER TABLE printer_status ADD COLUMN gateway_id TEXT NOT NULL DEFAULT '';
ALTER TABLE printer_status ADD COLUMN record_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE printers ADD COLUMN seen_gateway TEXT NOT NULL DEFAULT '';
ALTER TABLE printers ADD COLUMN seen_seq BIGINT NOT NULL DEFAULT 0;
