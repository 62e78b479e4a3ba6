ALTER TABLE containers DROP COLUMN holds;
