package pgcat

import (
	"context"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/space"
)

// HostName is the name a host registers under: the machine's host name,
// with "/instance" appended for a named instance, so several instances on
// one machine are several hosts.
func HostName(instance string) string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	if instance != "" {
		h += "/" + instance
	}
	return h
}

// RegisterHost records host (refreshing its heartbeat), the spaces of its
// partitions, and the partitions with their totals and free bytes, in one
// transaction. Partitions whose statfs failed keep their last figures.
// The set of this host's partitions becomes exactly us.
func RegisterHost(ctx context.Context, pool *pgxpool.Pool, host, version string, us []space.Usage, retry Retry) error {
	return retry.Do(ctx, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO hosts (name, pid, version) VALUES ($1, $2, $3)
				ON CONFLICT (name) DO UPDATE SET heartbeat = now(), pid = EXCLUDED.pid, version = EXCLUDED.version`,
				host, os.Getpid(), version); err != nil {
				return err
			}
			paths := make([]string, 0, len(us))
			for _, u := range us {
				paths = append(paths, u.Path)
				if _, err := tx.Exec(ctx, `INSERT INTO spaces (name) VALUES ($1) ON CONFLICT DO NOTHING`, u.Space); err != nil {
					return err
				}
				if u.Err != nil {
					if _, err := tx.Exec(ctx, `INSERT INTO partitions (host, space, path, cap_bytes) VALUES ($1, $2, $3, $4)
						ON CONFLICT (host, path) DO UPDATE SET space = EXCLUDED.space, cap_bytes = EXCLUDED.cap_bytes`,
						host, u.Space, u.Path, u.Cap); err != nil {
						return err
					}
					continue
				}
				if _, err := tx.Exec(ctx, `INSERT INTO partitions (host, space, path, cap_bytes, total_bytes, free_bytes)
					VALUES ($1, $2, $3, $4, $5, $6)
					ON CONFLICT (host, path) DO UPDATE SET space = EXCLUDED.space, cap_bytes = EXCLUDED.cap_bytes,
						total_bytes = EXCLUDED.total_bytes, free_bytes = EXCLUDED.free_bytes, updated_at = now()`,
					host, u.Space, u.Path, u.Cap, u.Total, u.Free); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `DELETE FROM partitions WHERE host = $1 AND NOT (path = ANY($2))`, host, paths)
			return err
		})
	})
}

// Heartbeat refreshes host's heartbeat.
func Heartbeat(ctx context.Context, pool *pgxpool.Pool, host string, retry Retry) error {
	return retry.Do(ctx, func(ctx context.Context) error {
		_, err := pool.Exec(ctx, `UPDATE hosts SET heartbeat = now() WHERE name = $1`, host)
		return err
	})
}
