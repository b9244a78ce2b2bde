-- fwtoken-store schema 1 (SQLite). Times are integer Unix seconds; ids are 16-byte blobs;
-- user_key is fwtoken::identity_key, computed in Rust.
CREATE TABLE fwtoken_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO fwtoken_version (id, version) VALUES (1, 0);

CREATE TABLE fwtoken_devices (
    device_id BLOB PRIMARY KEY CHECK (length(device_id) = 16),
    user_key TEXT NOT NULL,
    user_name TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    last_seen INTEGER,
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX fwtoken_devices_user ON fwtoken_devices (user_key, revoked_at);

CREATE TABLE fwtoken_api_tokens (
    token_id BLOB PRIMARY KEY CHECK (length(token_id) = 16),
    user_key TEXT NOT NULL,
    user_name TEXT NOT NULL,
    app TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX fwtoken_api_tokens_user ON fwtoken_api_tokens (user_key);
CREATE INDEX fwtoken_api_tokens_app ON fwtoken_api_tokens (app);
CREATE INDEX fwtoken_api_tokens_expires ON fwtoken_api_tokens (expires);

CREATE TABLE fwtoken_login_tokens (
    digest BLOB PRIMARY KEY CHECK (length(digest) = 32),
    expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX fwtoken_login_tokens_expires ON fwtoken_login_tokens (expires);
