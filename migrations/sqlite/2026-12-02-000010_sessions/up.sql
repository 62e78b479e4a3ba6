-- Sessions (issue 14, item 7): one row per sign-in, the refresh-token family. Access tokens
-- carry its id (`sid`) and every request checks it, so that logout, revocation,
-- deactivation and password changes take effect at once instead of at token expiry.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Existing sign-ins become sessions: live while a refresh token of the family is unspent.
INSERT INTO sessions (id, user_id, created_at, revoked_at)
SELECT family_id, MIN(user_id), MIN(issued_at),
       CASE WHEN SUM(CASE WHEN used_at IS NULL AND revoked_at IS NULL THEN 1 ELSE 0 END) > 0
            THEN NULL
            ELSE MAX(COALESCE(revoked_at, used_at, issued_at)) END
FROM refresh_tokens
GROUP BY family_id;
