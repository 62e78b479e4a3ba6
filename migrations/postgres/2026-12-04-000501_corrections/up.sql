-- Issue 17: corrections approved by the parties concerned. A request and the votes on it
-- are kept for ever; an approved one is applied as a new event in the container's chain
-- (`corrects` names the scan it corrects, `new_value` a corrected category), never as an
-- edit of a stored scan.
ALTER TABLE scan_events ADD COLUMN corrects TEXT;
ALTER TABLE scan_events ADD COLUMN new_value TEXT;
CREATE TABLE corrections (
    id TEXT PRIMARY KEY NOT NULL,
    container_id TEXT NOT NULL REFERENCES containers(id),
    event_id TEXT,
    field TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_party TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    decided_at TIMESTAMP,
    applied_event_id TEXT
);
CREATE INDEX corrections_container ON corrections (container_id, requested_at);
CREATE TABLE correction_votes (
    correction_id TEXT NOT NULL REFERENCES corrections(id),
    party TEXT NOT NULL,
    user_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    note TEXT,
    at TIMESTAMP NOT NULL,
    PRIMARY KEY (correction_id, party)
);
