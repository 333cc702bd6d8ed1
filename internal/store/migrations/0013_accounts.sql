-- Accounts: a password an administrator reset must be replaced at the
-- next login, and failed logins are counted in the store, so that every
-- node sharing the database applies the same lock.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0; -- sqlite
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT false; -- postgres

-- login_failures counts the failed logins of a user name (lower-cased)
-- from one client address, and, under the address '*', from all
-- addresses together. A row with no failure for a while starts afresh.
CREATE TABLE login_failures (
	name_key     TEXT NOT NULL,
	address      TEXT NOT NULL,
	failures     INTEGER NOT NULL,
	last_at      BIGINT NOT NULL,
	locked_until BIGINT NOT NULL,
	PRIMARY KEY (name_key, address)
);
CREATE INDEX login_failures_last ON login_failures (last_at);
