-- 006: finding the changes made to a host's files outside frm.
--
-- Each host keeps, for every directory of its namespace, the mtime (in
-- nanoseconds) the directory had when its entries were last compared with
-- the catalog. An entry created, removed or renamed in a directory changes
-- the directory's mtime, so a pass that stats every directory and looks
-- inside only those whose mtime moved finds every such change without
-- reading the rest (core/site Discover). The stamps are the host's own:
-- hosts that share directory names keep their own.
CREATE TABLE IF NOT EXISTS dir_stamps (
    site      text   COLLATE "C" NOT NULL DEFAULT '',
    host      text   NOT NULL,
    lfn       text   COLLATE "C" NOT NULL,
    mtime_ns  bigint NOT NULL,
    PRIMARY KEY (site, host, lfn)
);
