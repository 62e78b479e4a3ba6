DROP TABLE correction_votes;
DROP TABLE corrections;
ALTER TABLE scan_events DROP COLUMN new_value;
ALTER TABLE scan_events DROP COLUMN corrects;
