-- Identity: organisation kinds, users limited to sites, TOTP second
-- factors with recovery codes, pending second-factor logins, API tokens.

-- kind: 1 customer, 2 service provider (access.OrgKind).
ALTER TABLE orgs ADD COLUMN kind SMALLINT NOT NULL DEFAULT 1;

-- site_limited false means every site of the org; true means only the
-- sites in user_sites (possibly none). A flag, not "no rows", so that
-- losing rows never widens access.
ALTER TABLE users ADD COLUMN site_limited BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE user_sites (
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	site_id TEXT NOT NULL REFERENCES sites (id),
	PRIMARY KEY (user_id, site_id)
);

-- totp holds a user's TOTP secret, pending until confirmed by a first code
-- (enabled). last_step is the newest time step used: a code of that step
-- or an older one is refused (no replay).
CREATE TABLE totp (
	user_id   TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	secret    TEXT NOT NULL,
	enabled   BOOLEAN NOT NULL DEFAULT false,
	last_step BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE recovery_codes (
	user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	code_hash TEXT NOT NULL,
	used_at   BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, code_hash)
);

-- login_challenges are logins whose password was right and whose second
-- factor is still to come, by the hash of a short-lived token.
CREATE TABLE login_challenges (
	token_hash TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	expires_at BIGINT NOT NULL
);
CREATE INDEX login_challenges_user ON login_challenges (user_id);
CREATE INDEX login_challenges_expires ON login_challenges (expires_at);

CREATE TABLE api_tokens (
	id           TEXT PRIMARY KEY,
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	token_hash   TEXT NOT NULL UNIQUE,
	scope        SMALLINT NOT NULL,
	site_limited BOOLEAN NOT NULL,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	revoked_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_org_created ON api_tokens (org_id, created_at);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE api_token_sites (
	token_id TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
	site_id  TEXT NOT NULL REFERENCES sites (id),
	PRIMARY KEY (token_id, site_id)
);
