-- Managing printers while the Command Center runs: a display name the site
-- gives a printer (kept on the site), retirement (polling stops, the
-- printer's history stays), and printers found by discovery that wait for
-- an operator to confirm their certificate before they are pinned.
ALTER TABLE printers ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE printers ADD COLUMN retired_at   TEXT NOT NULL DEFAULT ''; -- '' while active

CREATE TABLE pending_printers (
	address     TEXT PRIMARY KEY,
	fingerprint TEXT NOT NULL,
	identity    TEXT NOT NULL DEFAULT '', -- JSON fleet.Identity as the printer's public route gave it
	found_at    TEXT NOT NULL
) STRICT;
