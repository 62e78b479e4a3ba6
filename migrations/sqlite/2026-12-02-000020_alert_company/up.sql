-- The disposal company an alert concerns (its run, vehicle or plant handled the container or
-- manifest): only that company's staff see and act on it (issue #14, item 9). NULL for
-- institution-side conditions (storage, not collected, inactive).
ALTER TABLE alerts ADD COLUMN org_id TEXT;
CREATE INDEX alerts_org ON alerts (org_id, id);
CREATE INDEX alerts_institution ON alerts (institution_id, id);
