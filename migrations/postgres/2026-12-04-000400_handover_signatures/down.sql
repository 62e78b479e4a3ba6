DROP TABLE manifest_signatures;
DROP TABLE handover_confirmations;
DROP TABLE handover_settings;
