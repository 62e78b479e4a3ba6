DROP FUNCTION yifei_require_rows(BIGINT, BIGINT);
