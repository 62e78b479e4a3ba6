DROP INDEX alerts_institution;
DROP INDEX alerts_org;
ALTER TABLE alerts DROP COLUMN org_id;
