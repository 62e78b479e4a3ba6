DROP TABLE provisional_stops;
DROP TABLE provisional_routes;
ALTER TABLE runs DROP COLUMN fetched_at;
ALTER TABLE plans DROP COLUMN superseded_by;
ALTER TABLE plans DROP COLUMN notes;
ALTER TABLE plans DROP COLUMN horizon_days;
