ALTER TABLE scan_events DROP COLUMN disposed_at;
ALTER TABLE scan_events DROP COLUMN batch;
ALTER TABLE scan_events DROP COLUMN weight_source;
