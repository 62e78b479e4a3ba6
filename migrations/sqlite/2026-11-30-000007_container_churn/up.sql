-- Every accepted scan rewrites its container's row (state, weights, head of the chain), and
-- each index on a column a scan changes is rewritten with it. The lists and rules that filter
-- on state already read containers by institution or whole (see docs/BENCHMARKS.md, "Scan
-- ingest"); only boxes inside a big box are indexed by their parent.
DROP INDEX containers_state;
DROP INDEX containers_parent;
CREATE INDEX containers_parent ON containers (parent_id) WHERE parent_id IS NOT NULL;
