-- 005: changes made on one host to another host's files.
--
-- A catalog change (pin, mark, mmap) made on host A to a file of host B is
-- written to the row at once; B writes it onto the file's xattrs, so that
-- the file keeps telling its own state. A leaves an event of kind
-- 'remote_apply' whose host is B; B applies the events after the last one
-- it applied (hosts.applied_event) and advances it.
ALTER TABLE hosts ADD COLUMN IF NOT EXISTS applied_event bigint NOT NULL DEFAULT 0;

CREATE INDEX IF NOT EXISTS events_remote_apply_idx ON events (host, id)
    WHERE kind = 'remote_apply';
