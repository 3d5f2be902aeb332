// Package wire opens a site with the implementations its configuration
// names. It is the one place where frm chooses them: the catalog (the
// files themselves, or PostgreSQL: pgcat's catalog with its schema
// checked, beside pgqueue's shared queue and notifications) and the
// DSN's source ($FRM_CATALOG_DSN wins over the configuration). Beneath it
// the engine sees interfaces: catalog.Catalog and the optional
// capabilities site.Shared, catalog.HostRegistry and the reconciling
// interfaces of package site.
//
// Commands (cmd/frm), daemons and tests call Open instead of building a
// site themselves.
package wire

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"frm/core/catalog"
	"frm/core/catalog/pgcat"
	"frm/core/config"
	"frm/core/pgqueue"
	"frm/core/site"
	"frm/sql/schema"
)

// DSNEnv names the environment variable whose DSN wins over the
// configuration's catalog.dsn, and makes any site's catalog PostgreSQL.
const DSNEnv = "FRM_CATALOG_DSN"

// CatalogDSN returns the PostgreSQL DSN of cfg's catalog and whether the
// catalog is PostgreSQL at all: $FRM_CATALOG_DSN when set, else
// catalog.dsn with catalog.kind = "postgres". An unknown kind is an error.
func CatalogDSN(cfg *config.Config) (dsn string, postgres bool, err error) {
	if v := os.Getenv(DSNEnv); v != "" {
		return v, true, nil
	}
	switch cfg.Catalog.Kind {
	case "postgres":
		return cfg.Catalog.DSN, true, nil
	case "", "embedded":
		return "", false, nil
	}
	return "", false, fmt.Errorf("unknown catalog kind %q (embedded or postgres)", cfg.Catalog.Kind)
}

// openTimeout bounds the connection and schema check at open.
const openTimeout = 30 * time.Second

// Open builds the site cfg describes. With a PostgreSQL catalog it
// connects and checks that the schema is current: a schema that is not is
// an error (a setup to finish), while a database that cannot be reached
// leaves the site open with its catalog unavailable (an outage to ride
// out: what needs only the files or the daemon still works). Close the
// site to release the connections.
func Open(cfg *config.Config) (*site.Site, error) {
	dsn, postgres, err := CatalogDSN(cfg)
	if err != nil {
		return nil, err
	}
	s := site.New(cfg)
	// As every xrootd tool does when it starts: the usage log is created
	// and the stand-alone tools' changes folded in. Best effort: query
	// and audit usage read the file and say what is wrong with it.
	_ = s.InitUsage()
	if !postgres {
		return s, nil
	}
	if dsn == "" {
		return nil, fmt.Errorf("catalog kind postgres needs a dsn (catalog.dsn or $%s)", DSNEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	pool, err := pgcat.Open(ctx, dsn, pgcat.PoolOptions{
		MaxConns:         int32(cfg.Catalog.MaxConns),
		StatementTimeout: cfg.Catalog.StatementTimeout.Std(),
	})
	if err == nil {
		var st schema.Status
		if st, err = schema.GetStatus(ctx, pool); err != nil {
			err = fmt.Errorf("catalog %s: %w", config.RedactDSN(dsn), err)
			pool.Close()
		} else if !st.Current() {
			pool.Close()
			return nil, fmt.Errorf("catalog %s: schema is not current (run 'frm db migrate')", config.RedactDSN(dsn))
		}
	}
	if err != nil {
		s.CatalogUnavailable(err)
		return s, nil
	}
	host := catalog.HostName(cfg.Instance)
	c := &sharedCatalog{
		Catalog: pgcat.New(pool, pgcat.Options{Names: s.Names, Site: cfg.Site, Host: host, WriteThrough: s.Files(), Spaces: s.Spaces}),
		pool:    pool,
		queue:   pgqueue.New(pool, pgqueue.Options{Site: cfg.Site, Host: host}),
	}
	s.UseCatalog(ctx, c, pool.Close)
	return s, nil
}

// sharedCatalog is the PostgreSQL catalog with what shares its database:
// the request queue every host serves and the notifications (site.Shared).
type sharedCatalog struct {
	*pgcat.Catalog
	pool  *pgxpool.Pool
	queue *pgqueue.Queue
}

var _ site.Shared = (*sharedCatalog)(nil)

func (c *sharedCatalog) SharedQueue() *pgqueue.Queue { return c.queue }

func (c *sharedCatalog) WatchQueue(ctx context.Context, interval time.Duration, fn func()) error {
	return pgqueue.Watch(ctx, c.pool, interval, fn)
}

func (c *sharedCatalog) WatchRemoteChanges(ctx context.Context, fn func(host string)) error {
	return pgqueue.ListenOn(ctx, c.pool, pgcat.RemoteApplyChannel, fn)
}

// Pool is the shared catalog's connection pool, for tools that work on
// the database itself (import, benchmarks); nil when s's catalog is not
// PostgreSQL or was not reached.
func Pool(s *site.Site) *pgxpool.Pool {
	if c, ok := s.Catalog.(*sharedCatalog); ok {
		return c.pool
	}
	return nil
}
