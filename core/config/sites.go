package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Sites configures frm sites, the manager's view of a federation
// (docs/sites.md): the sites data file, where runs are kept, and the
// schedule on which frm daemon runs the report.
type Sites struct {
	// File is the sites data file (sites.toml); frm sites --sites
	// overrides it.
	File string `toml:"file,omitempty"`
	// StateDir keeps the last runs, the latest report (which frm serve
	// serves) and the per-site locks. "": <admin dir>/sites.
	StateDir string `toml:"state_dir,omitempty"`
	// Schedule makes frm daemon run the report: an interval ("1h",
	// "15m") or a daily time ("03:30", local time). "": never.
	Schedule string `toml:"schedule,omitempty"`
}

// SitesStateDir is the [sites] state directory in force.
func (c *Config) SitesStateDir() string {
	if c.Sites.StateDir != "" {
		return c.Sites.StateDir
	}
	return filepath.Join(c.AdminDir(), "sites")
}

// Schedule is when a periodic job runs: every Every, or daily at Hour:Minute.
type Schedule struct {
	Every        time.Duration
	Hour, Minute int
	Daily        bool
}

// MinScheduleInterval is the shortest interval of [sites] schedule.
const MinScheduleInterval = time.Minute

// ParseSchedule reads "1h" (an interval of at least a minute) or "03:30"
// (daily, local time).
func ParseSchedule(s string) (Schedule, error) {
	if h, m, ok := strings.Cut(s, ":"); ok {
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
			return Schedule{}, fmt.Errorf("schedule %q: a daily time is HH:MM (00:00 to 23:59)", s)
		}
		return Schedule{Daily: true, Hour: hh, Minute: mm}, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: an interval (1h, 15m) or a daily time (03:30)", s)
	}
	if d < MinScheduleInterval {
		return Schedule{}, fmt.Errorf("schedule %q: at least %s", s, Duration(MinScheduleInterval))
	}
	return Schedule{Every: d}, nil
}

// Next is the first run after now.
func (s Schedule) Next(now time.Time) time.Time {
	if !s.Daily {
		return now.Add(s.Every)
	}
	t := time.Date(now.Year(), now.Month(), now.Day(), s.Hour, s.Minute, 0, 0, now.Location())
	if !t.After(now) {
		t = time.Date(now.Year(), now.Month(), now.Day()+1, s.Hour, s.Minute, 0, 0, now.Location())
	}
	return t
}

func (c *Config) validateSites(v *validator) {
	s := c.Sites
	v.absPath("sites.file", s.File, false)
	v.absPath("sites.state_dir", s.StateDir, false)
	if s.Schedule != "" {
		if s.File == "" {
			v.add("sites.schedule", "needs sites.file (the sites to report on)")
		}
		if _, err := ParseSchedule(s.Schedule); err != nil {
			v.add("sites.schedule", "%v", err)
		}
	}
}
