-- Rolling horizon (issue 15): a plan covers 1-7 days; its first day becomes runs, later days
-- are provisional routes, stored here and superseded by the next plan of the company that
-- covers them (re-planned every morning with the new scans). Runs remember when their driver
-- first fetched them, so re-planning tells the driver instead of replacing them silently.
ALTER TABLE plans ADD COLUMN horizon_days INTEGER NOT NULL DEFAULT 1;
ALTER TABLE plans ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE plans ADD COLUMN superseded_by TEXT;
ALTER TABLE runs ADD COLUMN fetched_at TIMESTAMP;

CREATE TABLE provisional_routes (
    id TEXT PRIMARY KEY NOT NULL,
    plan_id TEXT NOT NULL REFERENCES plans (id),
    day TEXT NOT NULL,
    vehicle_id TEXT NOT NULL REFERENCES vehicles (id),
    distance_m DOUBLE PRECISION NOT NULL,
    duration_s DOUBLE PRECISION NOT NULL,
    load_g INTEGER NOT NULL
);
CREATE INDEX provisional_routes_plan ON provisional_routes (plan_id, day);

CREATE TABLE provisional_stops (
    id TEXT PRIMARY KEY NOT NULL,
    route_id TEXT NOT NULL REFERENCES provisional_routes (id),
    seq INTEGER NOT NULL,
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    eta TIMESTAMP NOT NULL,
    deadline TIMESTAMP,
    expected_g INTEGER NOT NULL,
    reasons TEXT NOT NULL,
    UNIQUE (route_id, seq)
);
