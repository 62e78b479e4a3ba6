DROP TABLE inspections;
DROP TABLE alerts;
