package pgcat

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"frm/core/retry"
)

// Retry is how often and how patiently an operation is retried after a
// transient failure: a serialization failure or deadlock (the transaction
// lost a race and may simply run again), or a dropped connection or a
// server shutting down or starting (the pool reconnects).
type Retry struct {
	Attempts int           // total tries; 0 means 8
	MinWait  time.Duration // first backoff; 0 means 50ms
	MaxWait  time.Duration // backoff ceiling; 0 means 2s
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 8
	}
	if r.MinWait <= 0 {
		r.MinWait = 50 * time.Millisecond
	}
	if r.MaxWait <= 0 {
		r.MaxWait = 2 * time.Second
	}
	return r
}

// Do runs op until it succeeds, fails with an error that is not transient,
// ctx ends, or the attempts are spent. op must be safe to run again (a
// transaction that rolled back, or work that is idempotent). The waits
// are frm's one retry policy (package retry).
func (r Retry) Do(ctx context.Context, op func(ctx context.Context) error) error {
	r = r.withDefaults()
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := retry.Policy{Retries: r.Attempts - 1, Base: r.MinWait, Max: r.MaxWait}.Do(ctx, op, Transient, nil)
	if err != nil && ctx.Err() == nil && Transient(err) {
		// The retries are spent on a passing fault: the database is not
		// there now. Said as such, and without the cause's errno (a
		// missing socket is ENOENT, which must not read as "no such
		// file" for the entry asked about).
		return &unavailableError{cause: err.Error()}
	}
	return err
}

// ErrUnavailable is wrapped by the errors of operations that could not
// reach the catalog database after their retries.
var ErrUnavailable = errors.New("the catalog database is unavailable")

type unavailableError struct{ cause string }

func (e *unavailableError) Error() string { return ErrUnavailable.Error() + ": " + e.cause }
func (e *unavailableError) Unwrap() error { return ErrUnavailable }

// Transient reports whether err is worth retrying: serialization failures
// and deadlocks, connection failures (class 08), server shutdown or
// startup (57P01..57P03), too many connections, and errors of the
// connection itself (reset, EOF, refused). Cancellation is not transient.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *permanentError
	if errors.As(err, &pe) {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", // serialization_failure
			"40P01", // deadlock_detected
			"57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now
			"53300": // too_many_connections
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08")
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	// Only network operations: syscall.Errno is a net.Error too, and a
	// failed setxattr is no reason to retry.
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	for _, e := range []error{io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.EPIPE} {
		if errors.Is(err, e) {
			return true
		}
	}
	// pgx reports a connection closed under it in words only.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "unexpected EOF") || strings.Contains(msg, "connection reset")
}

// permanentError marks an error that must not be retried whatever it
// wraps (a failed write-through to the filesystem).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
