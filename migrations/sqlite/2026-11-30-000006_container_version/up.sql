-- A container's version: bumped by every write of its row, so that a scan batch worked out
-- from an unlocked read can be stored only if nothing changed the containers in between.
ALTER TABLE containers ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
