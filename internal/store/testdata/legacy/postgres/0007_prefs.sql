-- user_prefs holds a user's display preferences: language ("" for the
-- browser's) and IANA time zone name ("" for UTC). No row means both
-- unchosen.
CREATE TABLE user_prefs (
	user_id   TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	lang      TEXT NOT NULL DEFAULT '',
	time_zone TEXT NOT NULL DEFAULT ''
);
