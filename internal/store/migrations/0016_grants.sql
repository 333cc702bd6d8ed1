-- Grants: a customer's permission for a service provider to act on the
-- customer's data, on some sites or all (site_limited as for users), for
-- a set of scopes (access.GrantScope bits), from starts_at until
-- expires_at, until revoked (revoked_at 0: not revoked). Times are Unix
-- nanoseconds, as elsewhere.
CREATE TABLE grants (
	id           TEXT PRIMARY KEY,
	customer_id  TEXT NOT NULL REFERENCES orgs (id),
	provider_id  TEXT NOT NULL REFERENCES orgs (id),
	role         INTEGER NOT NULL, -- sqlite
	scopes       INTEGER NOT NULL, -- sqlite
	site_limited INTEGER NOT NULL, -- sqlite
	role         SMALLINT NOT NULL, -- postgres
	scopes       SMALLINT NOT NULL, -- postgres
	site_limited BOOLEAN NOT NULL, -- postgres
	starts_at    BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	created_at   BIGINT NOT NULL,
	created_by   TEXT NOT NULL,
	revoked_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX grants_customer ON grants (customer_id, created_at);
CREATE INDEX grants_provider ON grants (provider_id, created_at);

CREATE TABLE grant_sites (
	grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
	site_id  TEXT NOT NULL REFERENCES sites (id),
	PRIMARY KEY (grant_id, site_id)
);
