-- Email outbox: every email is written here in the transaction of its cause, then delivered
-- by the notify worker with retries. Rows are never deleted (sent and failed ones are the
-- record of what was mailed).
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- The condition that caused the email (e.g. alert:<id>): one email per key and recipient.
    dedupe_key TEXT,
    -- pending | sent | failed
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    -- The delivery pass that holds the row, and until when.
    lease_token TEXT,
    lease_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
-- NULL keys never conflict (both backends treat NULLs as distinct here).
CREATE UNIQUE INDEX outbox_dedupe ON outbox (dedupe_key, recipient);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_lease ON outbox (lease_token);
