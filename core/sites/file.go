// Package sites is frm sites: the manager's view of a federation of frm
// sites (docs/sites.md). It reads the sites data file (sites.toml), probes
// every site's frm serve (/v1/status) many at once but never two probes or
// jobs against one site at a time (a per-site lock on the probing host),
// judges each site against thresholds (OK, WARNING, CRITICAL, UNKNOWN, as
// a Nagios plugin does), runs frm admin commands at sites through
// /v1/admin, keeps the last runs, and renders the aggregated report as
// text, JSON or one self-contained HTML page.
//
// It is engine code: it knows nothing of terminals, faces or daemons; the
// CLI (cmd/frm sites), the TUI's Sites view and frm daemon's schedule call
// it.
package sites

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"frm/core/config"
)

// File is a sites data file: the sites, the thresholds they are judged
// by, and how they are probed.
type File struct {
	Thresholds Thresholds `toml:"thresholds"`
	Probe      Probe      `toml:"probe"`
	Sites      []Site     `toml:"site"`
	// Path is the file it was read from (not part of the format).
	Path string `toml:"-"`
}

// Site is one frm site: its frm serve and the credentials to speak to it.
type Site struct {
	Name string `toml:"name"`
	// URL is the site's frm serve ("https://b.example:8443").
	URL string `toml:"url"`
	// TokenFile holds the bearer token (a read token for status; an admin
	// token for commands that change state). Relative paths are relative
	// to the data file's directory.
	TokenFile string `toml:"token_file"`
	// CAFile holds the CA certificates the site's must chain to (empty:
	// the system roots).
	CAFile string   `toml:"ca_file"`
	Tags   []string `toml:"tags"`
}

// Thresholds judge a site's status. Zero values take the defaults.
type Thresholds struct {
	// SpaceWarn and SpaceCritical are percentages of a space's capacity
	// in use (default 85 and 95).
	SpaceWarn     float64 `toml:"space_warn"`
	SpaceCritical float64 `toml:"space_critical"`
	// FailuresWarn and FailuresCritical count the transfers that failed
	// in the last 24 hours (default 1 and 10).
	FailuresWarn     int `toml:"failures_warn"`
	FailuresCritical int `toml:"failures_critical"`
	// UnmigratedWarn and UnmigratedCritical bound the age of the oldest
	// file waiting for migration (default 24h and 72h).
	UnmigratedWarn     config.Duration `toml:"unmigrated_warn"`
	UnmigratedCritical config.Duration `toml:"unmigrated_critical"`
	// NotAnswering is the state of a site that does not answer
	// (connection refused, timeout): "critical" (default), "warning" or
	// "unknown".
	NotAnswering string `toml:"not_answering"`
}

// Probe says how sites are probed. Zero values take the defaults.
type Probe struct {
	// Timeout bounds one try of one probe, and the wait for a busy
	// site's lock (default 10s).
	Timeout config.Duration `toml:"timeout"`
	// Retries of a probe that failed for a passing reason (connection
	// refused or reset, timeout, 5xx; default 1).
	Retries *int `toml:"retries"`
	// Parallel is how many sites are probed at once (default 16).
	Parallel int `toml:"parallel"`
}

// Defaults.
const (
	DefaultSpaceWarn          = 85
	DefaultSpaceCritical      = 95
	DefaultFailuresWarn       = 1
	DefaultFailuresCritical   = 10
	DefaultUnmigratedWarn     = 24 * time.Hour
	DefaultUnmigratedCritical = 72 * time.Hour
	DefaultTimeout            = 10 * time.Second
	DefaultRetries            = 1
	DefaultParallel           = 16
	// MaxSites bounds a data file (a typo'd generator must not start a
	// million probes).
	MaxSites = 10000
)

// withDefaults fills zero thresholds and probe settings.
func (f *File) withDefaults() {
	t := &f.Thresholds
	if t.SpaceWarn == 0 {
		t.SpaceWarn = DefaultSpaceWarn
	}
	if t.SpaceCritical == 0 {
		t.SpaceCritical = DefaultSpaceCritical
	}
	if t.FailuresWarn == 0 {
		t.FailuresWarn = DefaultFailuresWarn
	}
	if t.FailuresCritical == 0 {
		t.FailuresCritical = DefaultFailuresCritical
	}
	if t.UnmigratedWarn == 0 {
		t.UnmigratedWarn = config.Duration(DefaultUnmigratedWarn)
	}
	if t.UnmigratedCritical == 0 {
		t.UnmigratedCritical = config.Duration(DefaultUnmigratedCritical)
	}
	if t.NotAnswering == "" {
		t.NotAnswering = "critical"
	}
	p := &f.Probe
	if p.Timeout == 0 {
		p.Timeout = config.Duration(DefaultTimeout)
	}
	if p.Retries == nil {
		r := DefaultRetries
		p.Retries = &r
	}
	if p.Parallel == 0 {
		p.Parallel = DefaultParallel
	}
}

// Load reads and validates the data file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sites file: %w", err)
	}
	f, err := Parse(b, path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Parse reads a data file's text; path names it in errors and anchors
// relative token and CA paths (its directory).
func Parse(data []byte, path string) (*File, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, fmt.Errorf("%s: not a text file (NUL byte)", path)
	}
	var f File
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			keys = append(keys, k.String())
		}
		return nil, fmt.Errorf("%s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	f.Path = path
	f.withDefaults()
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir := dirOf(path)
	for i := range f.Sites {
		s := &f.Sites[i]
		s.URL = strings.TrimSuffix(s.URL, "/")
		if s.TokenFile != "" && !strings.HasPrefix(s.TokenFile, "/") {
			s.TokenFile = dir + s.TokenFile
		}
		if s.CAFile != "" && !strings.HasPrefix(s.CAFile, "/") {
			s.CAFile = dir + s.CAFile
		}
	}
	return &f, nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i+1]
	}
	return ""
}

// Validate checks the file: every error, one per line.
func (f *File) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(f.Sites) == 0 {
		add("no [[site]]: list at least one site")
	}
	if len(f.Sites) > MaxSites {
		add("%d sites: at most %d", len(f.Sites), MaxSites)
	}
	seen := map[string]bool{}
	for i, s := range f.Sites {
		key := fmt.Sprintf("site[%d]", i)
		switch {
		case s.Name == "":
			add("%s.name: must be set", key)
		case !config.ValidSpaceName(s.Name):
			add("%s.name: invalid site name %q (1 to 63 characters of A-Z a-z 0-9 _ . -)", key, s.Name)
		case seen[s.Name]:
			add("%s.name: site %q is listed twice", key, s.Name)
		}
		seen[s.Name] = true
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			add("%s.url: want https://host:port (is %q)", key, s.URL)
		}
		if s.TokenFile == "" {
			add("%s.token_file: must be set (the file holding the site's bearer token)", key)
		}
		for j, tag := range s.Tags {
			if !config.ValidSpaceName(tag) {
				add("%s.tags[%d]: invalid tag %q (1 to 63 characters of A-Z a-z 0-9 _ . -)", key, j, tag)
			}
		}
	}
	t := f.Thresholds
	if t.SpaceWarn < 0 || t.SpaceWarn > 100 || t.SpaceCritical < 0 || t.SpaceCritical > 100 {
		add("thresholds.space_warn, space_critical: percentages between 0 and 100")
	} else if t.SpaceWarn > t.SpaceCritical {
		add("thresholds.space_warn (%g) is above space_critical (%g)", t.SpaceWarn, t.SpaceCritical)
	}
	if t.FailuresWarn < 0 || t.FailuresCritical < 0 {
		add("thresholds.failures_warn, failures_critical: must not be negative")
	} else if t.FailuresWarn > t.FailuresCritical {
		add("thresholds.failures_warn (%d) is above failures_critical (%d)", t.FailuresWarn, t.FailuresCritical)
	}
	if t.UnmigratedWarn > t.UnmigratedCritical {
		add("thresholds.unmigrated_warn (%s) is above unmigrated_critical (%s)", t.UnmigratedWarn, t.UnmigratedCritical)
	}
	if !slices.Contains([]string{"critical", "warning", "unknown"}, t.NotAnswering) {
		add("thresholds.not_answering: critical, warning or unknown (is %q)", t.NotAnswering)
	}
	p := f.Probe
	if p.Timeout < 0 || p.Timeout.Std() > time.Hour {
		add("probe.timeout: between 1ms and 1h (is %s)", p.Timeout)
	}
	if p.Retries != nil && (*p.Retries < 0 || *p.Retries > 10) {
		add("probe.retries: 0 to 10 (is %d)", *p.Retries)
	}
	if p.Parallel < 0 || p.Parallel > 1024 {
		add("probe.parallel: 1 to 1024 (is %d)", p.Parallel)
	}
	return errors.Join(errs...)
}

// Select returns the sites with any of tags (none: all) and, when names
// is not empty, only those named; an unknown name is an error.
func (f *File) Select(tags, names []string) ([]Site, error) {
	for _, n := range names {
		if !slices.ContainsFunc(f.Sites, func(s Site) bool { return s.Name == n }) {
			return nil, fmt.Errorf("no site %q in %s", n, f.Path)
		}
	}
	var out []Site
	for _, s := range f.Sites {
		if len(names) > 0 && !slices.Contains(names, s.Name) {
			continue
		}
		if len(tags) > 0 && !slices.ContainsFunc(tags, func(t string) bool { return slices.Contains(s.Tags, t) }) {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// Timeout is the probe timeout in force.
func (f *File) Timeout() time.Duration { return f.Probe.Timeout.Std() }

// Retries is the probe retries in force.
func (f *File) Retries() int {
	if f.Probe.Retries == nil {
		return DefaultRetries
	}
	return *f.Probe.Retries
}
