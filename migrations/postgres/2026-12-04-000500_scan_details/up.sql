-- Issue 17: what a weight is (weighed on a scale or estimated), and what the plant records
-- of a disposal (its batch or furnace, and when it burned). NULL on events recorded before:
-- a weight without a source counts as weighed, a disposal without a time happened when scanned.
ALTER TABLE scan_events ADD COLUMN weight_source TEXT;
ALTER TABLE scan_events ADD COLUMN batch TEXT;
ALTER TABLE scan_events ADD COLUMN disposed_at TIMESTAMP;
