DROP TABLE refresh_tokens;
DROP TABLE users;
DROP TABLE institutions;
DROP TABLE organisations;
DROP TABLE settings;
