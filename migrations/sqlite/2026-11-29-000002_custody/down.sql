DROP TABLE scan_events;
DROP TABLE containers;
