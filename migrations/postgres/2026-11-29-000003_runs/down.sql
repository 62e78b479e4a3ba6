DROP TABLE manifests;
DROP TABLE positions;
DROP TABLE run_stops;
DROP TABLE runs;
DROP TABLE plans;
DROP TABLE pickup_requests;
DROP TABLE vehicles;
