package config

import (
	"path/filepath"
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
