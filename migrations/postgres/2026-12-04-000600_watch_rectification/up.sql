-- Issue #18 items 2 and 3: the watch list also holds the disposal company (org_id, no
-- institution; township '' = county-wide) and an escalation level; a failed inspection opens
-- a rectification (限期整改) that a passed re-inspection closes.
ALTER TABLE watch_list ALTER COLUMN institution_id DROP NOT NULL;
ALTER TABLE watch_list ADD COLUMN org_id TEXT REFERENCES organisations (id);
ALTER TABLE watch_list ADD COLUMN level INTEGER NOT NULL DEFAULT 0;
UPDATE watch_list SET level = 1 WHERE escalated_at IS NOT NULL;

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
    data BYTEA NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL
);
CREATE INDEX enforcement_documents_action ON enforcement_documents (action_id);
