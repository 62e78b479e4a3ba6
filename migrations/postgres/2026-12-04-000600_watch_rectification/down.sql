DROP TABLE enforcement_documents;
DROP TABLE enforcement_actions;
DROP TABLE rectifications;
DELETE FROM watch_list WHERE institution_id IS NULL;
ALTER TABLE watch_list DROP COLUMN level;
ALTER TABLE watch_list DROP COLUMN org_id;
ALTER TABLE watch_list ALTER COLUMN institution_id SET NOT NULL;
