DROP INDEX containers_parent;
CREATE INDEX containers_parent ON containers (parent_id);
CREATE INDEX containers_state ON containers (state, id);
