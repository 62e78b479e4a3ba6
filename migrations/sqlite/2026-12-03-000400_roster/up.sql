-- The bureau's roster of licensed institutions (issue #18, item 1): the 纳入率's honest
-- denominator. A roster entry is matched to a signed-up institution by licence number; one
-- that never signed up still counts. `disposal` is 'centralised', or 'self' where the law
-- allows it (条例 Art.21, remote villages), with its basis.
CREATE TABLE roster_entries (
    id TEXT PRIMARY KEY NOT NULL,
    licence_no TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    township TEXT NOT NULL,
    village TEXT NOT NULL,
    address TEXT NOT NULL,
    lat REAL,
    lng REAL,
    beds INTEGER NOT NULL,
    disposal TEXT NOT NULL,
    self_disposal_basis TEXT,
    institution_id TEXT REFERENCES institutions (id),
    invite_code_hash TEXT UNIQUE,
    invited_at TIMESTAMP,
    invited_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX roster_entries_township ON roster_entries (township, licence_no);
