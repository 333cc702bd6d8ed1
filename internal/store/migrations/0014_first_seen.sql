-- When each printer was first seen: the time of the earliest record the
-- cloud stored of it. Utilisation and idle time count a printer's time
-- from then on, not over days before it existed. Printers stored before
-- get the earliest time their events, KPI days or last_seen show.
ALTER TABLE printers ADD COLUMN first_seen BIGINT NOT NULL DEFAULT 0;
UPDATE printers SET first_seen = last_seen;
UPDATE printers SET first_seen = (SELECT MIN(e.time) FROM events e WHERE e.printer_id = printers.id)
	WHERE EXISTS (SELECT 1 FROM events e WHERE e.printer_id = printers.id AND e.time < printers.first_seen);
UPDATE printers SET first_seen = (SELECT MIN(k.day) FROM kpi_daily k WHERE k.printer_id = printers.id)
	WHERE EXISTS (SELECT 1 FROM kpi_daily k WHERE k.printer_id = printers.id AND k.day < printers.first_seen);
