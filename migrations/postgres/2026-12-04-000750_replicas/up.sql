-- What several server processes on one database must share (README "Several replicas").
-- Times are microseconds since the Unix epoch: the upserts compare and add them in SQL, the
-- same way on both backends.

-- The login lockout: failed attempts per login and client address in a fixed window.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    since_us BIGINT NOT NULL
);

-- Background jobs that one process at a time runs (alert ticks and digests): who holds the
-- job and until when; another process takes it over once the lease has expired.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    until_us BIGINT NOT NULL
);
