-- fwtoken-store schema 2 (PostgreSQL): which version of fwtoken::identity_key's rules the
-- stored user_key columns were computed with (fwtoken::IDENTITY_KEY_VERSION). Databases of
-- schema 1 hold version 1 keys; opening the store recomputes every key in Rust, in the
-- same transaction, whenever this is below the version the build uses.
CREATE TABLE fwtoken_identity (
    id integer PRIMARY KEY CHECK (id = 1),
    key_version integer NOT NULL
);
INSERT INTO fwtoken_identity (id, key_version) VALUES (1, 1);
