ALTER TABLE containers DROP COLUMN version;
