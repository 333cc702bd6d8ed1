-- Air-gapped bundles (R-PEER-7): the newest bundle of each gateway that the
-- cloud imported, of which its acknowledgement file is made. held is the
-- JSON array of the ranges of sequence numbers published, refused the JSON
-- array of the records refused with their reasons. Times are Unix
-- nanoseconds.
CREATE TABLE bundle_imports (
	gateway_id TEXT PRIMARY KEY REFERENCES gateways (id),
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	site_id    TEXT NOT NULL REFERENCES sites (id),
	serial     BIGINT NOT NULL,
	created    BIGINT NOT NULL,
	imported   BIGINT NOT NULL,
	records    BIGINT NOT NULL,
	held       TEXT NOT NULL,
	refused    TEXT NOT NULL
);
