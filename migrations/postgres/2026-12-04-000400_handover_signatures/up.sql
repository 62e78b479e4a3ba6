-- Issue #17 parts 1 and 3: the shipper's confirmation of a hand-over (offline, by a code its
-- staff know, or later from its login), its consent to unattended pickups, and the ordered
-- signatures of a manifest (shipper, carrier, receiver, disposal).
CREATE TABLE handover_settings (
    institution_id TEXT PRIMARY KEY NOT NULL REFERENCES institutions (id),
    -- The confirmation code, kept so the server can recompute the device's HMAC (see
    -- docs/SIGNATURES.md for why it is not hashed and what that risks).
    confirm_code TEXT,
    unattended_consent BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE handover_confirmations (
    id TEXT PRIMARY KEY NOT NULL,
    manifest_id TEXT NOT NULL REFERENCES manifests (id),
    method TEXT NOT NULL,
    containers TEXT NOT NULL,
    container_count INTEGER NOT NULL,
    weight_g BIGINT NOT NULL,
    device_at TIMESTAMP NOT NULL,
    mac TEXT NOT NULL,
    verified BOOLEAN NOT NULL DEFAULT FALSE,
    flag TEXT,
    submitted_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    UNIQUE (manifest_id, mac)
);
CREATE INDEX handover_confirmations_manifest ON handover_confirmations (manifest_id);
CREATE TABLE manifest_signatures (
    id TEXT PRIMARY KEY NOT NULL,
    manifest_id TEXT NOT NULL REFERENCES manifests (id),
    party TEXT NOT NULL,
    seq INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    signer_name TEXT NOT NULL,
    signer_role TEXT NOT NULL,
    signed_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    covers TEXT NOT NULL,
    UNIQUE (manifest_id, party)
);
