-- 007: request classes (core/qclass) in the shared queue.
--
-- class is the request class the daemons put a queued request in, by the
-- site's [[queue.class]] rules; NULL until a daemon classified it (the
-- hosts that add requests do not need the rules, nor the MSS a size rule
-- asks). Each host claims per class, within the class's slots. Without
-- configured classes it stays NULL and claims ignore it.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS class text;

-- Claims of one class: highest priority first, then oldest.
CREATE INDEX IF NOT EXISTS requests_class_claim_idx
    ON requests (site, class, priority DESC, created_at, id)
    WHERE state = 'queued';

-- The requests a daemon has still to classify.
CREATE INDEX IF NOT EXISTS requests_unclassified_idx
    ON requests (site, id)
    WHERE state = 'queued' AND class IS NULL;
