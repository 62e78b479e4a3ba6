-- Pickups and runs: fleet, pickup requests, plans, runs and their stops, GPS tracks, and
-- transfer manifests (联单). Opening hours are per institution (JSON time windows).
CREATE TABLE vehicles (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    plate TEXT NOT NULL UNIQUE,
    capacity_kg INTEGER NOT NULL,
    capacity_units INTEGER NOT NULL,
    refrigerated BOOLEAN NOT NULL,
    shift_start TEXT NOT NULL,
    shift_end TEXT NOT NULL,
    driver_id TEXT REFERENCES users (id),
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE pickup_requests (
    id TEXT PRIMARY KEY NOT NULL,
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    requested_by TEXT NOT NULL REFERENCES users (id),
    earliest TIMESTAMP,
    latest TIMESTAMP,
    est_weight_g INTEGER NOT NULL,
    containers INTEGER,
    note TEXT,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX pickup_requests_open ON pickup_requests (status, institution_id);

CREATE TABLE plans (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    day TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    unassigned TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX plans_day ON plans (org_id, day);

CREATE TABLE runs (
    id TEXT PRIMARY KEY NOT NULL,
    plan_id TEXT NOT NULL REFERENCES plans (id),
    org_id TEXT NOT NULL REFERENCES organisations (id),
    vehicle_id TEXT NOT NULL REFERENCES vehicles (id),
    driver_id TEXT REFERENCES users (id),
    day TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP NOT NULL,
    distance_m DOUBLE NOT NULL,
    duration_s DOUBLE NOT NULL,
    load_g INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX runs_day ON runs (org_id, day);
CREATE INDEX runs_driver ON runs (driver_id, day);

CREATE TABLE run_stops (
    id TEXT PRIMARY KEY NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs (id),
    seq INTEGER NOT NULL,
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    eta TIMESTAMP NOT NULL,
    deadline TIMESTAMP,
    expected_g INTEGER NOT NULL,
    expected_containers INTEGER NOT NULL,
    reasons TEXT NOT NULL,
    status TEXT NOT NULL,
    skip_reason TEXT,
    completed_at TIMESTAMP,
    UNIQUE (run_id, seq)
);
CREATE INDEX run_stops_institution ON run_stops (institution_id, status);

CREATE TABLE positions (
    run_id TEXT NOT NULL REFERENCES runs (id),
    at TIMESTAMP NOT NULL,
    lat DOUBLE NOT NULL,
    lng DOUBLE NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, at)
);

CREATE TABLE manifests (
    id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL REFERENCES runs (id),
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (run_id, institution_id)
);
