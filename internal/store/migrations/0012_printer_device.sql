-- A printer is identified within its organisation. device_id is the ID the
-- printer reports through its gateway; id stays the key every printer
-- table references. The two are equal but where another organisation's
-- printer already used the device's ID as its key: then the new printer
-- gets a key of its own, so neither organisation blocks the other.
ALTER TABLE printers ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
UPDATE printers SET device_id = id;
CREATE UNIQUE INDEX printers_device ON printers (org_id, device_id);
