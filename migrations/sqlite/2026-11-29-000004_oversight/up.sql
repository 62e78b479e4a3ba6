-- Oversight: alerts with a lifecycle, and the bureau's spot checks (规范化管理抽查).
CREATE TABLE alerts (
    id TEXT PRIMARY KEY NOT NULL,
    condition_key TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    institution_id TEXT REFERENCES institutions (id),
    township TEXT,
    detail TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    acked_at TIMESTAMP,
    acked_by TEXT,
    resolved_at TIMESTAMP,
    resolved_by TEXT,
    note TEXT
);
CREATE INDEX alerts_status ON alerts (status, rule);

CREATE TABLE inspections (
    id TEXT PRIMARY KEY NOT NULL,
    institution_id TEXT REFERENCES institutions (id),
    org_id TEXT REFERENCES organisations (id),
    township TEXT,
    inspector_id TEXT NOT NULL REFERENCES users (id),
    inspected_at TIMESTAMP NOT NULL,
    packaging BOOLEAN NOT NULL,
    labels BOOLEAN NOT NULL,
    storage_time BOOLEAN NOT NULL,
    register BOOLEAN NOT NULL,
    signage BOOLEAN NOT NULL,
    passed BOOLEAN NOT NULL,
    notes TEXT,
    rectification_deadline TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX inspections_time ON inspections (inspected_at);
