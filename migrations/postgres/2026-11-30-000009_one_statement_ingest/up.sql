-- A scan batch worked out without locks is stored in one statement: the containers' new
-- state (each row only if still at the version the batch read) and the events, as `WITH`
-- clauses. This check ends that statement: when fewer containers were written than the batch
-- read, it raises the error a client retries on (40001), which undoes the whole statement,
-- events included; the server then works the batch out again under the containers' locks.
CREATE FUNCTION yifei_require_rows(written BIGINT, expected BIGINT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    IF written <> expected THEN
        RAISE EXCEPTION 'stale scan batch: % of % containers still at the version read',
            written, expected
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN written;
END
$$;
