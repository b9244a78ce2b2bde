-- fwtoken-store schema 1 (PostgreSQL). Times are bigint Unix seconds; ids are 16-byte
-- bytea; user_key is fwtoken::identity_key, computed in Rust.
CREATE TABLE fwtoken_version (
    id integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO fwtoken_version (id, version) VALUES (1, 0);

CREATE TABLE fwtoken_devices (
    device_id bytea PRIMARY KEY CHECK (length(device_id) = 16),
    user_key text NOT NULL,
    user_name text NOT NULL,
    issued_at bigint NOT NULL,
    seq bigserial NOT NULL,
    last_seen bigint,
    revoked_at bigint
);
CREATE INDEX fwtoken_devices_user ON fwtoken_devices (user_key) WHERE revoked_at IS NULL;
CREATE INDEX fwtoken_devices_user_all ON fwtoken_devices (user_key);

CREATE TABLE fwtoken_api_tokens (
    token_id bytea PRIMARY KEY CHECK (length(token_id) = 16),
    user_key text NOT NULL,
    user_name text NOT NULL,
    app text NOT NULL,
    issued_at bigint NOT NULL,
    expires bigint NOT NULL,
    revoked_at bigint
);
CREATE INDEX fwtoken_api_tokens_user ON fwtoken_api_tokens (user_key);
CREATE INDEX fwtoken_api_tokens_app ON fwtoken_api_tokens (app);
CREATE INDEX fwtoken_api_tokens_expires ON fwtoken_api_tokens (expires);

CREATE TABLE fwtoken_login_tokens (
    digest bytea PRIMARY KEY CHECK (length(digest) = 32),
    expires bigint NOT NULL
);
CREATE INDEX fwtoken_login_tokens_expires ON fwtoken_login_tokens (expires);
