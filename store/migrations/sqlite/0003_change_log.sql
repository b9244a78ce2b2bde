-- fwtoken-store schema 3 (SQLite): the change log, so a node evicts only what a write made
-- inactive. (Number 2 is left to another migration; each file is applied once, recorded
-- in fwtoken_migrations, in order of its number, whenever it is not recorded yet.)
--
-- Every write that makes something inactive bumps fwtoken_version.version, sets a new
-- random stamp and logs each id it made inactive at that version, in one transaction
-- (a SQLite write transaction is exclusive, so commit order is version order). Every
-- version has at least one row. Housekeeping deletes old rows after raising purged_to:
-- rows of versions <= purged_to may be gone, rows above it are all present;
-- purged_stamp is the stamp of version purged_to, so a node standing exactly there can
-- still check that it shares the database's history (a restored backup does not).
ALTER TABLE fwtoken_version ADD COLUMN stamp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fwtoken_version ADD COLUMN purged_to INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fwtoken_version ADD COLUMN purged_stamp INTEGER NOT NULL DEFAULT 0;
-- Versions made before the log existed have no rows: a node never needs them (it starts
-- at the version it reads), and one that claims to must drop its cache.
UPDATE fwtoken_version SET purged_to = version, purged_stamp = stamp;

CREATE TABLE fwtoken_changes (
    version INTEGER NOT NULL,
    stamp INTEGER NOT NULL,
    -- 1: a device, 2: an API token
    kind INTEGER NOT NULL CHECK (kind IN (1, 2)),
    id BLOB NOT NULL CHECK (length(id) = 16),
    -- Unix seconds of the write (the caller's `now`), for purging by age.
    at INTEGER NOT NULL,
    PRIMARY KEY (version, kind, id)
) WITHOUT ROWID;
CREATE INDEX fwtoken_changes_at ON fwtoken_changes (at);

-- The next registration's sequence number is max(seq) + 1: with an index that is one
-- lookup instead of a scan of every device (10^6 devices: a scan per registration).
CREATE INDEX fwtoken_devices_seq ON fwtoken_devices (seq);
