-- Role: the database of a multi-host site (docs/multihost.md).
-- Run once as a PostgreSQL superuser; then `frm db init` from any frm host
-- creates the schema (migrations are idempotent and safe from several
-- hosts at once).
--
--   psql -f database.sql && createdb -O frm frm

CREATE ROLE frm LOGIN;            -- daemons and admins; \password frm
CREATE ROLE frm_ro LOGIN;         -- frm tui --read-only, reports, queue -watch

-- After `frm db init` has created the tables:
--   GRANT CONNECT ON DATABASE frm TO frm_ro;
--   GRANT USAGE ON SCHEMA public TO frm_ro;
--   GRANT SELECT ON ALL TABLES IN SCHEMA public TO frm_ro;
--   ALTER DEFAULT PRIVILEGES FOR ROLE frm IN SCHEMA public GRANT SELECT ON TABLES TO frm_ro;

-- Queue tables churn: let autovacuum look often (migration 003 also sets
-- per-table thresholds on requests).
--   ALTER SYSTEM SET autovacuum_naptime = '5s';
-- A lost commit after a crash means a claim or completion redone (leases
-- expire, completions are fenced): the frm role can commit asynchronously.
--   ALTER ROLE frm SET synchronous_commit = off;
