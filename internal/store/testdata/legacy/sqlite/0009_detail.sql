-- The job history filtered by status: newest jobs of an organisation in
-- one status, without reading every job of the organisation.
CREATE INDEX jobs_org_status_created ON jobs (org_id, json_extract(data, '$.status'), created_at);
