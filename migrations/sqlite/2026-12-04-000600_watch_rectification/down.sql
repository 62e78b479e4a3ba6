DROP TABLE enforcement_documents;
DROP TABLE enforcement_actions;
DROP TABLE rectifications;
DELETE FROM watch_list WHERE institution_id IS NULL;
CREATE TABLE watch_list_old (
    id TEXT PRIMARY KEY NOT NULL,
    condition_key TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    township TEXT NOT NULL,
    reason TEXT NOT NULL,
    owner TEXT NOT NULL,
    deadline TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    escalated_at TIMESTAMP,
    struck_off_at TIMESTAMP,
    struck_off_by TEXT,
    evidence TEXT,
    evidence_inspection_id TEXT REFERENCES inspections (id)
);
INSERT INTO watch_list_old SELECT id, condition_key, rule, institution_id, township, reason,
    owner, deadline, status, opened_at, escalated_at, struck_off_at, struck_off_by, evidence,
    evidence_inspection_id FROM watch_list;
DROP TABLE watch_list;
ALTER TABLE watch_list_old RENAME TO watch_list;
CREATE INDEX watch_list_status ON watch_list (status, township);
