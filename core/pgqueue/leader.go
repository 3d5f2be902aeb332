package pgqueue

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lead takes or renews the leader lease name for holder, for ttl from
// now, and reports whether holder leads. It leads when nobody held the
// lease, when it held it already, or when the previous holder's lease
// expired. Call it every third of ttl or so: a holder that stops calling
// loses the lease ttl after its last call.
func (q *Queue) Lead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return false, errors.New("pgqueue: Lead needs a name, a holder and a ttl")
	}
	var got string
	err := q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		err := q.pool.QueryRow(ctx, `INSERT INTO leaders AS l (name, holder, expires)
			VALUES ($1, $2, now() + $3 * interval '1 microsecond')
			ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires,
				acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE now() END
			WHERE l.holder = EXCLUDED.holder OR l.expires < now()
			RETURNING holder`, q.opt.Site+"/"+name, holder, ttl.Microseconds()).Scan(&got)
		if errors.Is(err, pgx.ErrNoRows) {
			got = ""
			return nil
		}
		return err
	})
	return got == holder, err
}

// Resign gives up the leader lease name if holder has it, so that another
// host can take it at once (a clean shutdown).
func (q *Queue) Resign(ctx context.Context, name, holder string) error {
	return q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		_, err := q.pool.Exec(ctx, `DELETE FROM leaders WHERE name = $1 AND holder = $2`, q.opt.Site+"/"+name, holder)
		return err
	})
}

// Leader returns the holder of lease name and when it expires; "" when
// nobody holds it.
func (q *Queue) Leader(ctx context.Context, name string) (holder string, expires time.Time, err error) {
	err = q.opt.Retry.Do(ctx, func(ctx context.Context) error {
		err := q.pool.QueryRow(ctx, `SELECT holder, expires FROM leaders WHERE name = $1 AND expires > now()`, q.opt.Site+"/"+name).Scan(&holder, &expires)
		if errors.Is(err, pgx.ErrNoRows) {
			holder, err = "", nil
		}
		return err
	})
	return holder, expires, err
}
