package daemons

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"frm/core/pgqueue"
	"frm/core/space"
)

// purgeLeader elects one purger per space across the hosts of a shared
// catalog. The lease of a space is named by the space and the
// identifiers of its partitions (space.PartitionID): hosts that mount the
// same partitions compete for one lease, so two hosts never purge the
// same files at once; a host with partitions of its own (same space name
// and paths, but its own disks) holds its own lease and purges them.
type purgeLeader struct {
	queue  *pgqueue.Queue
	holder string
	ttl    time.Duration

	mu   sync.Mutex
	led  map[string]bool      // space name -> leads
	keys map[string]string    // space name -> lease name
	held map[string]time.Time // space name -> when its lease was last taken or renewed
	// down is the database error of the last refresh that could not
	// reach the leases (said once, until a refresh reaches them again).
	down error
}

// leaseName is the lease of a space's purge: its name and a digest of its
// partitions' identifiers.
func leaseName(sp space.Space) (string, error) {
	var ids []string
	for _, p := range sp.Partitions {
		id, err := space.PartitionID(p.Path)
		if err != nil {
			return "", err
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
	return "purge/" + sp.Name + "/" + hex.EncodeToString(sum[:8]), nil
}

// refresh takes or renews the lease of every space and returns the names
// of the spaces this host leads. A space whose partitions cannot be
// identified, or whose lease cannot be reached, is not purged here this
// time: the safe side.
func (l *purgeLeader) refresh(ctx context.Context, spaces []space.Space, log func(msg string, args ...any)) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys, l.led, l.held = map[string]string{}, map[string]bool{}, map[string]time.Time{}
	}
	var led []string
	var downErr error
	for _, sp := range spaces {
		key, ok := l.keys[sp.Name]
		if !ok {
			k, err := leaseName(sp)
			if err != nil {
				log("cannot identify the partitions of a space; not purging it", "space", sp.Name, "err", err)
				continue
			}
			key, l.keys[sp.Name] = k, k
		}
		rctx, cancel := context.WithTimeout(ctx, dbTimeout)
		ok, err := l.queue.Lead(rctx, key, l.holder, l.ttl)
		cancel()
		if err != nil {
			// The database is unreachable, which says nothing of the other
			// hosts: a leader keeps purging for what is left of its lease
			// (nobody else can have taken it meanwhile), then stops.
			downErr = err
			ok = l.led[sp.Name] && time.Since(l.held[sp.Name]) < l.ttl
			if !ok && l.led[sp.Name] {
				log("the purge lease could not be renewed for a whole lease; not purging the space until the database answers", "space", sp.Name, "err", err)
			}
			l.led[sp.Name] = ok
			if ok {
				led = append(led, sp.Name)
			}
			continue
		}
		if ok {
			l.held[sp.Name] = time.Now()
		}
		if ok != l.led[sp.Name] {
			if ok {
				log("this host now purges the space", "space", sp.Name, "lease", key)
			} else {
				log("another host purges the space", "space", sp.Name, "lease", key)
			}
		}
		l.led[sp.Name] = ok
		if ok {
			led = append(led, sp.Name)
		}
	}
	switch {
	case downErr != nil && l.down == nil:
		log("cannot reach the purge leases (the catalog database); a space is purged only for what is left of its lease", "err", downErr)
	case downErr == nil && l.down != nil:
		log("the purge leases are reachable again")
	}
	l.down = downErr
	return led
}

// leading returns the spaces led at the last refresh.
func (l *purgeLeader) leading() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for n, ok := range l.led {
		if ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// resign gives up every lease held (a clean shutdown): another host takes
// over at once instead of after the ttl.
func (l *purgeLeader) resign(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, ok := range l.led {
		if ok {
			l.queue.Resign(ctx, l.keys[name], l.holder)
			l.led[name] = false
		}
	}
}
