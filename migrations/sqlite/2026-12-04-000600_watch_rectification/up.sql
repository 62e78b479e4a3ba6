-- Issue #18 items 2 and 3: the watch list also holds the disposal company (org_id, no
-- institution; township '' = county-wide) and an escalation level; a failed inspection opens
-- a rectification (限期整改) that a passed re-inspection closes.
CREATE TABLE watch_list_new (
    id TEXT PRIMARY KEY NOT NULL,
    condition_key TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    institution_id TEXT REFERENCES institutions (id),
    org_id TEXT REFERENCES organisations (id),
    township TEXT NOT NULL,
    reason TEXT NOT NULL,
    owner TEXT NOT NULL,
    deadline TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    level INTEGER NOT NULL DEFAULT 0,
    opened_at TIMESTAMP NOT NULL,
    escalated_at TIMESTAMP,
    struck_off_at TIMESTAMP,
    struck_off_by TEXT,
    evidence TEXT,
    evidence_inspection_id TEXT REFERENCES inspections (id)
);
INSERT INTO watch_list_new (id, condition_key, rule, institution_id, township, reason, owner,
    deadline, status, level, opened_at, escalated_at, struck_off_at, struck_off_by, evidence,
    evidence_inspection_id)
SELECT id, condition_key, rule, institution_id, township, reason, owner, deadline, status,
    CASE WHEN escalated_at IS NULL THEN 0 ELSE 1 END, opened_at, escalated_at, struck_off_at,
    struck_off_by, evidence, evidence_inspection_id
FROM watch_list;
DROP TABLE watch_list;
ALTER TABLE watch_list_new RENAME TO watch_list;
CREATE INDEX watch_list_status ON watch_list (status, township);

CREATE TABLE rectifications (
    id TEXT PRIMARY KEY NOT NULL,
    inspection_id TEXT NOT NULL UNIQUE REFERENCES inspections (id),
    institution_id TEXT REFERENCES institutions (id),
    org_id TEXT REFERENCES organisations (id),
    township TEXT,
    deadline TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    closed_by_inspection_id TEXT REFERENCES inspections (id)
);
CREATE INDEX rectifications_status ON rectifications (status, deadline);

-- Penalty decisions (处罚决定) and referrals (移送公安机关/其他部门) with their documents,
-- kept in the database (no separate file store to back up or secure).
CREATE TABLE enforcement_actions (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    institution_id TEXT REFERENCES institutions (id),
    org_id TEXT REFERENCES organisations (id),
    township TEXT,
    referred_to TEXT,
    summary TEXT NOT NULL,
    decided_at TIMESTAMP NOT NULL,
    recorded_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE enforcement_documents (
    id TEXT PRIMARY KEY NOT NULL,
    action_id TEXT NOT NULL REFERENCES enforcement_actions (id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    data BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);
CREATE INDEX enforcement_documents_action ON enforcement_documents (action_id);
