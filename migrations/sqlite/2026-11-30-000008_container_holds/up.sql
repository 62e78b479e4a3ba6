-- How many boxes a big box holds (nesting at township hubs). Kept on the box itself so that a
-- scan batch reads the contents only of boxes that have any, not of every container it touches.
ALTER TABLE containers ADD COLUMN holds INTEGER NOT NULL DEFAULT 0;
UPDATE containers SET holds = (SELECT count(*) FROM containers c WHERE c.parent_id = containers.id)
WHERE id IN (SELECT parent_id FROM containers WHERE parent_id IS NOT NULL);
