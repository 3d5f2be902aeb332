-- 002: the shared request queue, transfer history and events.

-- requests is the queue every host's workers claim from with
-- SELECT ... FOR UPDATE SKIP LOCKED. A claimed request carries the
-- claiming host (lease_owner) and a lease expiry; a request whose lease
-- expired (its host died) is claimable again. attempts counts claims.
--
-- kind: 'stage', 'migrate', 'purge', 'copy' ...; state: 'queued',
-- 'running', 'done', 'failed', 'cancelled'.
CREATE TABLE IF NOT EXISTS requests (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site          text        COLLATE "C" NOT NULL DEFAULT '',
    kind          text        NOT NULL,
    priority      smallint    NOT NULL DEFAULT 0,
    lfn           text        COLLATE "C" NOT NULL,
    rid           text        NOT NULL DEFAULT '',
    requester     text        NOT NULL DEFAULT '',
    notify        text        NOT NULL DEFAULT '',
    options       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    host          text        NOT NULL DEFAULT '',   -- host that must run it ('' = any)
    state         text        NOT NULL DEFAULT 'queued',
    attempts      integer     NOT NULL DEFAULT 0,
    lease_owner   text,
    lease_expires timestamptz,
    error         text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT requests_state_check
        CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled'))
);

-- One live request per (site, kind, lfn): duplicate stages merge.
CREATE UNIQUE INDEX IF NOT EXISTS requests_live_uidx ON requests (site, kind, lfn)
    WHERE state IN ('queued', 'running');

-- Claim order: highest priority first, then oldest.
CREATE INDEX IF NOT EXISTS requests_claim_idx ON requests (site, kind, priority DESC, id)
    WHERE state = 'queued';

-- Expired leases to reclaim.
CREATE INDEX IF NOT EXISTS requests_lease_idx ON requests (lease_expires)
    WHERE state = 'running';

CREATE INDEX IF NOT EXISTS requests_rid_idx ON requests (rid) WHERE rid <> '';

-- One row per finished transfer attempt (stage or migrate).
CREATE TABLE IF NOT EXISTS transfer_history (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site        text        COLLATE "C" NOT NULL DEFAULT '',
    request_id  bigint,
    kind        text        NOT NULL,
    lfn         text        COLLATE "C" NOT NULL,
    host        text        NOT NULL,
    bytes       bigint      NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    ok          boolean     NOT NULL,
    error       text        NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS transfer_history_lfn_idx ON transfer_history (site, lfn, finished_at);
CREATE INDEX IF NOT EXISTS transfer_history_time_idx ON transfer_history (finished_at);

-- Events: residency changes and daemon happenings, for audit trails and
-- for LISTEN/NOTIFY consumers that (re)load what they missed.
CREATE TABLE IF NOT EXISTS events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site        text        COLLATE "C" NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now(),
    host        text        NOT NULL DEFAULT '',
    kind        text        NOT NULL,
    lfn         text        COLLATE "C" NOT NULL DEFAULT '',
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX IF NOT EXISTS events_at_idx ON events (at);
