-- fwtoken-store schema 3 (PostgreSQL): the change log, so a node evicts only what a write
-- made inactive. (Number 2 is left to another migration; each file is applied once,
-- recorded in fwtoken_migrations, in order of its number, whenever it is not recorded yet.)
--
-- Every write that makes something inactive bumps fwtoken_version.version (taking the
-- version row's lock until it commits, so commit order is version order), sets a new
-- random stamp and logs each id it made inactive at that version, in the same
-- transaction. Every version has at least one row. Housekeeping raises purged_to before
-- deleting old rows: rows of versions <= purged_to may be gone, rows above it are all
-- present; purged_stamp is the stamp of version purged_to, so a node standing exactly
-- there can still check that it shares the database's history (a restored backup does
-- not).
ALTER TABLE fwtoken_version ADD COLUMN stamp bigint NOT NULL DEFAULT 0;
ALTER TABLE fwtoken_version ADD COLUMN purged_to bigint NOT NULL DEFAULT 0;
ALTER TABLE fwtoken_version ADD COLUMN purged_stamp bigint NOT NULL DEFAULT 0;
-- Versions made before the log existed have no rows: a node never needs them (it starts
-- at the version it reads), and one that claims to must drop its cache.
UPDATE fwtoken_version SET purged_to = version, purged_stamp = stamp;

CREATE TABLE fwtoken_changes (
    version bigint NOT NULL,
    stamp bigint NOT NULL,
    -- 1: a device, 2: an API token
    kind smallint NOT NULL CHECK (kind IN (1, 2)),
    id bytea NOT NULL CHECK (length(id) = 16),
    -- Unix seconds of the write (the caller's `now`), for purging by age.
    at bigint NOT NULL,
    PRIMARY KEY (version, kind, id)
);
CREATE INDEX fwtoken_changes_at ON fwtoken_changes (at);
