ALTER TABLE run_stops DROP COLUMN completed_by;
