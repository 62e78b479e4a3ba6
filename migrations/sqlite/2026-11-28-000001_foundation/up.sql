-- Foundation: settings, organisations, institutions, users, refresh tokens.
-- Portable types only (see api/src/db/schema.rs): ids are UUIDv7 text, timestamps are UTC
-- without zone, coordinates are doubles, H3 cells are 64-bit integers, enums are text.
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE organisations (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('disposal_company', 'health_bureau', 'eco_environment_bureau')),
    name TEXT NOT NULL,
    lat DOUBLE,
    lng DOUBLE,
    townships TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE institutions (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    licence_no TEXT NOT NULL UNIQUE,
    township TEXT NOT NULL,
    village TEXT NOT NULL,
    address TEXT NOT NULL,
    lat DOUBLE NOT NULL,
    lng DOUBLE NOT NULL,
    h3_cell BIGINT NOT NULL,
    beds INTEGER NOT NULL,
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    contact_email TEXT,
    status TEXT NOT NULL,
    status_reason TEXT,
    service_mode TEXT NOT NULL,
    hub_id TEXT REFERENCES institutions (id),
    collection_interval_h INTEGER NOT NULL,
    opening_hours TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX institutions_township ON institutions (township, id);
CREATE INDEX institutions_status ON institutions (status, id);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    org_id TEXT REFERENCES organisations (id),
    institution_id TEXT REFERENCES institutions (id),
    display_name TEXT,
    email TEXT,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
