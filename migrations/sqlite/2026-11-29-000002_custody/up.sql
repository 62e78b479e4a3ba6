-- Custody: labelled containers and their append-only, hash-chained scan events.
-- The container row holds the derived state (the fold of its events), recomputed on ingest.
CREATE TABLE containers (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    category TEXT NOT NULL,
    packaging TEXT NOT NULL,
    note TEXT,
    state TEXT NOT NULL,
    flags TEXT NOT NULL,
    parent_id TEXT REFERENCES containers (id),
    seal_weight_g INTEGER,
    collect_weight_g INTEGER,
    receive_weight_g INTEGER,
    sealed_at TIMESTAMP,
    collected_at TIMESTAMP,
    received_at TIMESTAMP,
    disposed_at TIMESTAMP,
    event_count INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX containers_institution ON containers (institution_id, id);
CREATE INDEX containers_state ON containers (state, id);
CREATE INDEX containers_parent ON containers (parent_id);

CREATE TABLE scan_events (
    id TEXT PRIMARY KEY NOT NULL,
    container_id TEXT NOT NULL REFERENCES containers (id),
    seq INTEGER NOT NULL,
    action TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    actor_id TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    weight_g INTEGER,
    lat DOUBLE,
    lng DOUBLE,
    run_id TEXT,
    reason TEXT,
    method TEXT,
    device_id TEXT,
    via_parent TEXT,
    parent_code TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (container_id, seq)
);
CREATE INDEX scan_events_occurred ON scan_events (container_id, occurred_at);
