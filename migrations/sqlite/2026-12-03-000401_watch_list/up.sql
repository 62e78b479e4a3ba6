-- The watch list (重点监控名单, issue #18 item 2): institutions put on it by a rule (a storage
-- breach, a failed inspection) with a reason, an owner and a deadline, struck off (销号) only
-- by bureau staff with evidence; overdue entries escalate.
CREATE TABLE watch_list (
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
CREATE INDEX watch_list_status ON watch_list (status, township);
