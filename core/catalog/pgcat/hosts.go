package pgcat

import (
	"context"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog"
	"frm/core/space"
)

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

// Hosts lists the registered hosts and their partitions, by name.
func Hosts(ctx context.Context, pool *pgxpool.Pool, retry Retry) ([]catalog.HostInfo, error) {
	var out []catalog.HostInfo
	err := retry.Do(ctx, func(ctx context.Context) error {
		out = out[:0]
		rows, err := pool.Query(ctx, `SELECT h.name, COALESCE(h.pid, 0), h.version, h.started_at, h.heartbeat,
				extract(epoch FROM now() - h.heartbeat)::float8,
				p.space, p.path, p.cap_bytes, p.total_bytes, p.free_bytes, p.updated_at
			FROM hosts h LEFT JOIN partitions p ON p.host = h.name
			ORDER BY h.name, p.space, p.path`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h catalog.HostInfo
			var age float64
			var sp, path *string
			var capb, total, free *int64
			var upd *time.Time
			if err := rows.Scan(&h.Name, &h.PID, &h.Version, &h.Started, &h.Heartbeat, &age, &sp, &path, &capb, &total, &free, &upd); err != nil {
				return err
			}
			h.Age = time.Duration(age * float64(time.Second))
			if n := len(out); n == 0 || out[n-1].Name != h.Name {
				out = append(out, h)
			}
			if path != nil {
				last := &out[len(out)-1]
				last.Partitions = append(last.Partitions, catalog.PartitionInfo{Space: *sp, Path: *path, Cap: *capb, Total: *total, Free: *free, Updated: *upd})
			}
		}
		return rows.Err()
	})
	return out, err
}

// RegisterHost records this host (Options.Host), its partitions and their
// sizes, and refreshes its heartbeat (catalog.HostRegistry).
func (c *Catalog) RegisterHost(ctx context.Context, version string, us []space.Usage) error {
	return RegisterHost(ctx, c.pool, c.opt.Host, version, us, c.opt.Retry)
}

// Heartbeat refreshes this host's heartbeat (catalog.HostRegistry).
func (c *Catalog) Heartbeat(ctx context.Context) error {
	return Heartbeat(ctx, c.pool, c.opt.Host, c.opt.Retry)
}

// Hosts lists the hosts sharing this catalog (catalog.HostRegistry).
func (c *Catalog) Hosts(ctx context.Context) ([]catalog.HostInfo, error) {
	return Hosts(ctx, c.pool, c.opt.Retry)
}

// HostName is this host's name in the catalog.
func (c *Catalog) HostName() string { return c.opt.Host }
