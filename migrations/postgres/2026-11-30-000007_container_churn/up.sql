-- Every accepted scan rewrites its container's row (state, weights, head of the chain).
-- With no index on a column a scan changes, PostgreSQL can update the row in place on its
-- page (a HOT update) instead of adding an entry to each of the table's indexes; room is left
-- on each page for those new row versions. The lists and rules that filter on state already
-- read containers by institution or whole (see docs/BENCHMARKS.md, "Scan ingest").
DROP INDEX containers_state;
DROP INDEX containers_parent;
CREATE INDEX containers_parent ON containers (parent_id) WHERE parent_id IS NOT NULL;
ALTER TABLE containers SET (fillfactor = 50);
