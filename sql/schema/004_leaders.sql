-- 004: leader leases, so that a job one host at a time must do (the purge
-- of a set of shared partitions) has one holder across hosts. A holder
-- renews its lease well before it expires; once expired, any host may
-- take it. acquired_at tells a renewal from a takeover.
CREATE TABLE IF NOT EXISTS leaders (
    name        text        PRIMARY KEY,
    holder      text        NOT NULL,
    expires     timestamptz NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now()
);
