-- The learning loop (R-FEAT-8): every version of the part-quality model,
-- with its training data description (data, JSON), whether it was
-- promoted into service and why; and the parameter sets proposed from a
-- version, one per printer model, until an engineer approves one for the
-- signed-release flow.
CREATE TABLE learn_models (
	version    INTEGER PRIMARY KEY,
	trained_at BIGINT NOT NULL,
	promoted   INTEGER NOT NULL,
	reason     TEXT NOT NULL DEFAULT '',
	data       TEXT NOT NULL
);

CREATE TABLE learn_proposals (
	id            TEXT PRIMARY KEY,
	model_version INTEGER NOT NULL REFERENCES learn_models (version),
	printer_model TEXT NOT NULL,
	created       BIGINT NOT NULL,
	state         TEXT NOT NULL,
	approved_by   TEXT NOT NULL DEFAULT '',
	approved_at   BIGINT NOT NULL DEFAULT 0,
	data          TEXT NOT NULL
);
CREATE INDEX learn_proposals_created ON learn_proposals (created);
