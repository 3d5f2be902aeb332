package site

import (
	"context"
	"errors"

	"frm/core/catalog"
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
	sh, ok := s.Shared()
	if !ok {
		return s.notShared()
	}
	return sh.RegisterHost(ctx, version, s.PartitionUsage())
}

// Heartbeat tells the shared catalog this host is alive.
func (s *Site) Heartbeat(ctx context.Context) error {
	sh, ok := s.Shared()
	if !ok {
		return s.notShared()
	}
	return sh.Heartbeat(ctx)
}

// Hosts lists the hosts registered in the shared catalog with their
// partitions (sizes as each host last reported them).
func (s *Site) Hosts(ctx context.Context) ([]catalog.HostInfo, error) {
	sh, ok := s.Shared()
	if !ok {
		return nil, s.notShared()
	}
	return sh.Hosts(ctx)
}

// notShared says why a shared-catalog operation cannot be done: the
// catalog is the files, or the shared one is unavailable.
func (s *Site) notShared() error {
	if s.catErr != nil {
		return s.catErr
	}
	return errNotShared
}
