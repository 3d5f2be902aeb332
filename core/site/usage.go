package site

import (
	"context"
	"errors"
	"strings"

	"frm/core/usage"
)

// ErrNoUsage means usage tracking (oss.usage log) is not configured.
var ErrNoUsage = errors.New("Usage is not being tracked.")

// UsagePath is the usage log file, or "" when usage is not tracked.
func (s *Site) UsagePath() string {
	if s.Config().Usage.LogDir == "" {
		return ""
	}
	return usage.Path(s.Config().Usage.LogDir, s.Config().Instance)
}

// InitUsage does with the usage log (when the site keeps one) what every
// xrootd tool does at start: creates it, folds Staged, Purged and Adjust
// into Used, and adds an entry for each configured space.
func (s *Site) InitUsage() error {
	p := s.UsagePath()
	if p == "" {
		return nil
	}
	var names []string
	for _, sp := range s.Spaces.All() {
		names = append(names, sp.Name)
	}
	return usage.Init(p, names)
}

// QueryUsage returns the usage-log entries of the named space (all
// configured spaces when name is ""), in configuration order. Spaces the
// log does not know yet read as zero.
func (s *Site) QueryUsage(name string) ([]usage.Entry, error) {
	p := s.UsagePath()
	if p == "" {
		return nil, ErrNoUsage
	}
	if name != "" {
		if _, ok := s.Spaces.Get(name); !ok {
			return nil, errors.New("Space " + name + " not found.")
		}
	}
	es, err := usage.Read(p)
	if err != nil && !errors.Is(err, usage.ErrMissing) {
		return nil, err
	}
	byName := map[string]usage.Entry{}
	for _, e := range es {
		byName[e.Name] = e
	}
	var out []usage.Entry
	for _, sp := range s.Spaces.All() {
		if name != "" && sp.Name != name {
			continue
		}
		e, ok := byName[sp.Name]
		if !ok {
			e = usage.Entry{Name: sp.Name}
		}
		out = append(out, e)
	}
	return out, nil
}

// UsageAudit is the result of auditing one space's usage.
type UsageAudit struct {
	Space    string
	Files    int64
	Actual   int64 // bytes held by the space's data files
	Tracked  bool  // usage log present: Claimed is meaningful
	Claimed  int64 // effective usage according to the log
	Fixed    bool
	Problems int // directories that could not be read
}

// ErrPathNotAllowed is returned for `audit usage name:path`.
var ErrPathNotAllowed = errors.New("Path not allowed for audit usage.")

// AuditUsage counts the data files of each space (or the named one) and
// compares with the usage log; with Fix it sets the log's Adjust so that
// the effective usage equals what is on disk.
func (s *Site) AuditUsage(ctx context.Context, name string, o AuditOptions, fn func(UsageAudit)) error {
	if name != "" {
		// frm_admin checks the space (and path) before refusing a path.
		if _, err := s.SpacePartitions(name); err != nil {
			return err
		}
	}
	if strings.Contains(name, ":") {
		return ErrPathNotAllowed
	}
	var claimed map[string]int64
	if es, err := s.QueryUsage(name); err == nil {
		claimed = map[string]int64{}
		for _, e := range es {
			claimed[e.Name] = e.Effective()
		}
	}
	for _, sp := range s.Spaces.All() {
		if name != "" && sp.Name != name {
			continue
		}
		ua := UsageAudit{Space: sp.Name}
		for _, p := range sp.Partitions {
			err := walkData(ctx, p, func(_ string, size int64) error {
				ua.Files++
				ua.Actual += size
				return nil
			})
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				ua.Problems++
				if o.OnError != nil {
					o.OnError(opErr("open directory", p.DataDir(), err))
				}
			}
		}
		if claimed != nil {
			ua.Tracked, ua.Claimed = true, claimed[sp.Name]
		}
		if o.Fix && ua.Tracked && ua.Claimed != ua.Actual {
			ok := o.Force
			if !ok {
				switch o.ask("Fix usage information?", No) {
				case Yes:
					ok = true
				case Abort:
					fn(ua)
					return ErrAborted
				}
			}
			if ok {
				if err := usage.SetAdjust(s.UsagePath(), sp.Name, ua.Actual); err != nil {
					return opErr("fix usage for", sp.Name, err)
				}
				ua.Fixed = true
			}
		}
		fn(ua)
	}
	if o.Fix && claimed == nil {
		return errors.New("No usage file present to fix!")
	}
	return nil
}
