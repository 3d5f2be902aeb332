-- 001: hosts, spaces, partitions and the file catalog.
--
-- Every statement is idempotent (IF NOT EXISTS): a migration that was
-- interrupted before its version row committed can run again. The runner
-- (sql/schema.go) applies each file in one transaction under an advisory
-- lock and records it in schema_migrations.

-- A host runs frm daemons against this database. heartbeat is refreshed
-- by the host; a host whose heartbeat is older than the lease time has
-- lost its leases.
CREATE TABLE IF NOT EXISTS hosts (
    name        text        PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    heartbeat   timestamptz NOT NULL DEFAULT now(),
    pid         integer,
    version     text        NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS spaces (
    name        text        PRIMARY KEY
);

-- One partition directory of a space on one host. total_bytes and
-- free_bytes are kept as SUMS keeps sum_partn_avail: sums maintained by
-- the owning host (statfs, or the configured cap), refreshed by its
-- daemons, reconciled from the filesystem by audit.
CREATE TABLE IF NOT EXISTS partitions (
    host        text        NOT NULL REFERENCES hosts (name) ON UPDATE CASCADE,
    space       text        NOT NULL REFERENCES spaces (name) ON UPDATE CASCADE,
    path        text        NOT NULL,
    cap_bytes   bigint      NOT NULL DEFAULT 0,
    total_bytes bigint      NOT NULL DEFAULT 0,
    free_bytes  bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, path)
);

-- files is the namespace: one row per entry (files, directories, side
-- files, others), so walks need no filesystem. lfn and parent use the C
-- collation so that prefix ranges (lfn >= '/a/' AND lfn < '/a0') are
-- byte ranges served by the primary key whatever the database locale.
--
-- type: 1 file, 2 directory, 3 side file, 4 other (catalog.Type).
-- Times are seconds since the epoch, as in the xattrs.
-- NULL means "absent" for copy_time, pin_*, mem_flags and pfn_ref, as a
-- missing xattr does.
CREATE TABLE IF NOT EXISTS files (
    site        text     COLLATE "C" NOT NULL DEFAULT '',
    lfn         text     COLLATE "C" NOT NULL,
    parent      text     COLLATE "C" NOT NULL,
    type        smallint NOT NULL,
    host        text     NOT NULL DEFAULT '',
    space       text     NOT NULL DEFAULT '',
    partition   text     NOT NULL DEFAULT '',
    link        text     NOT NULL DEFAULT '',
    dangling    boolean  NOT NULL DEFAULT false,
    size        bigint   NOT NULL DEFAULT 0,
    mtime       bigint   NOT NULL DEFAULT 0,
    atime       bigint   NOT NULL DEFAULT 0,
    ctime       bigint   NOT NULL DEFAULT 0,
    mode        bigint   NOT NULL DEFAULT 0,
    copy_time   bigint,
    pin_flags   smallint,
    pin_time    bigint,
    mem_flags   smallint,
    pfn_ref     text,
    failed      boolean  NOT NULL DEFAULT false,
    fail_reason text     NOT NULL DEFAULT '',
    -- [{"alg":"adler32","value":"01020304","mtime":1700000000,"delta":0}]
    checksums   jsonb    NOT NULL DEFAULT '[]'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, lfn)
);

-- Direct children of a directory (non-recursive walks, ls).
CREATE INDEX IF NOT EXISTS files_parent_idx ON files (site, parent, lfn);

-- find unmigrated: files never copied or modified since their copy. The
-- partial index holds only those rows, so the query costs what it returns.
CREATE INDEX IF NOT EXISTS files_unmigrated_idx ON files (site, lfn)
    WHERE type = 1 AND (copy_time IS NULL OR copy_time < mtime);

-- Purge selection: least recently accessed files of a space, per host.
CREATE INDEX IF NOT EXISTS files_purge_idx ON files (site, space, host, atime)
    WHERE type = 1;
