-- 003: what the queue workers (core/pgqueue) need beyond 002.
--
-- not_before delays a requeued request (retry backoff): it is not claimed
-- before that time. NULL means at once.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS not_before timestamptz;

-- When the current lease was taken (the start of the attempt, recorded in
-- transfer_history.started_at on completion).
ALTER TABLE requests ADD COLUMN IF NOT EXISTS claimed_at timestamptz;

-- Claim order across kinds: highest priority first, then oldest. Claims
-- filter on (site, state = 'queued') and read this index in order.
CREATE INDEX IF NOT EXISTS requests_claim_order_idx
    ON requests (site, priority DESC, created_at, id)
    WHERE state = 'queued';

-- A request completes once: at most one history row per request carries
-- the final outcome.
ALTER TABLE transfer_history ADD COLUMN IF NOT EXISTS final boolean NOT NULL DEFAULT true;
CREATE UNIQUE INDEX IF NOT EXISTS transfer_history_final_uidx
    ON transfer_history (request_id)
    WHERE final AND request_id IS NOT NULL;

-- A queue table churns: every claim and completion leaves dead tuples and
-- dead entries at the head of the claim index, which every claim then
-- steps over until vacuum removes them. Vacuum and analyze it after a
-- fixed number of changes, not a fraction of its (small) size, and
-- without cost delay.
ALTER TABLE requests SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 2000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 2000
);
