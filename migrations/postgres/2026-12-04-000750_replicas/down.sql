DROP TABLE job_leases;
DROP TABLE login_throttle;
