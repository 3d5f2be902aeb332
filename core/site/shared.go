package site

import (
	"context"
	"errors"

	"frm/core/catalog/pgcat"
	"frm/core/pgqueue"
	"frm/core/space"
)

// errNotShared is returned by the shared-catalog operations of an
// embedded site.
var errNotShared = errors.New("this site keeps its catalog on the filesystem (catalog.kind = embedded): no shared database")

// PartitionUsage stats every configured partition, with caps applied
// (capped partitions count their files, as df does). A partition whose
// statfs fails carries the error in its Usage.
func (s *Site) PartitionUsage() []space.Usage {
	var us []space.Usage
	for _, sp := range s.Spaces.All() {
		for _, p := range sp.Partitions {
			us = append(us, space.StatCapped(p))
		}
	}
	return us
}

// Register records this host, its partitions and their sizes in the
// shared catalog and refreshes its heartbeat.
func (s *Site) Register(ctx context.Context, version string) error {
	if s.pool == nil {
		return errNotShared
	}
	return pgcat.RegisterHost(ctx, s.pool, s.HostName(), version, s.PartitionUsage(), pgcat.Retry{})
}

// Heartbeat tells the shared catalog this host is alive.
func (s *Site) Heartbeat(ctx context.Context) error {
	if s.pool == nil {
		return errNotShared
	}
	return pgcat.Heartbeat(ctx, s.pool, s.HostName(), pgcat.Retry{})
}

// SharedQueue returns the shared request queue of a PostgreSQL catalog,
// or nil for an embedded site (whose queue is the local queue files).
func (s *Site) SharedQueue() *pgqueue.Queue {
	if s.pool == nil {
		return nil
	}
	return pgqueue.New(s.pool, pgqueue.Options{Site: s.Config().Site, Host: s.HostName()})
}

// Hosts lists the hosts registered in the shared catalog with their
// partitions (sizes as each host last reported them).
func (s *Site) Hosts(ctx context.Context) ([]pgcat.HostInfo, error) {
	if s.pool == nil {
		return nil, errNotShared
	}
	return pgcat.Hosts(ctx, s.pool, pgcat.Retry{})
}
