package catalog

import (
	"context"
	"os"
	"time"

	"frm/core/space"
)

// What a catalog kept in a database that many hosts share offers besides
// Catalog. The engine discovers each capability by type assertion, as
// io/fs discovers ReadDirFS, so that it never names an implementation;
// an embedded catalog has none of them.

// HostRegistry is a catalog whose hosts register, with their partitions,
// and keep a heartbeat.
type HostRegistry interface {
	// RegisterHost records this host, its partitions and their sizes,
	// and refreshes its heartbeat.
	RegisterHost(ctx context.Context, version string, partitions []space.Usage) error
	// Heartbeat tells the other hosts this one is alive.
	Heartbeat(ctx context.Context) error
	// Hosts lists the registered hosts with their partitions.
	Hosts(ctx context.Context) ([]HostInfo, error)
	// HostName is the name this host registers under.
	HostName() string
}

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

// HeartbeatEvery is how often a daemon refreshes its host's heartbeat; a
// host whose heartbeat is older than three periods is silent.
const HeartbeatEvery = 10 * time.Second

// HostInfo is a registered host with its partitions as it last reported
// them.
type HostInfo struct {
	Name       string
	PID        int
	Version    string
	Started    time.Time
	Heartbeat  time.Time
	Age        time.Duration // since the heartbeat, by the database's clock
	Partitions []PartitionInfo
}

// Silent reports whether the host missed three heartbeats (its daemon is
// down, or cut off from the database).
func (h HostInfo) Silent() bool { return h.Age > 3*HeartbeatEvery }

// PartitionInfo is one partition of a registered host.
type PartitionInfo struct {
	Space, Path      string
	Cap, Total, Free int64
	Updated          time.Time
}

// RemoteChange is a change another host made to the row of one of this
// host's files, still to be written onto the file.
type RemoteChange struct {
	ID  int64 // event id
	LFN string
	// Changes are the changes made (nil for events of frm versions that
	// did not record them: the row's state is applied then).
	Changes []Change
}
