-- Updates: the site's policy for installing releases the mirror holds, and
-- the releases someone approved in the local UI.

-- One row. mode: notify, approve or window. The window is weekly, in the
-- Command Center's local time: start_hour on weekday (0 Sunday) for hours.
CREATE TABLE update_policy (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	mode       TEXT NOT NULL,
	weekday    INTEGER NOT NULL,
	start_hour INTEGER NOT NULL,
	hours      INTEGER NOT NULL
);
INSERT INTO update_policy (id, mode, weekday, start_hour, hours) VALUES (1, 'approve', 6, 2, 4);

CREATE TABLE update_approvals (
	target      TEXT PRIMARY KEY,
	approved_at INTEGER NOT NULL -- Unix milliseconds
);
