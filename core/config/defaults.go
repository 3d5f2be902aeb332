package config

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Built-in defaults (xrootd 5.5.3 values).
const (
	DefaultCopyMax      = 2
	DefaultQCheck       = 300 * time.Second
	DefaultDeny         = 3 * time.Hour
	DefaultRetries      = 3
	DefaultIdleHold     = 600 * time.Second
	DefaultMigrWait     = 3600 * time.Second
	DefaultDirHold      = 40 * time.Hour
	DefaultPurgeWait    = 600 * time.Second
	DefaultPolicyMin    = "2%"
	DefaultPolicyMax    = "3%"
	DefaultPolicyHold   = 20 * time.Hour
	DefaultCatalogKind  = "embedded"
	DefaultChecksumAlg  = "adler32"
	DefaultConfigPath   = "/etc/frm/frm.toml"
	DefaultPolicySpace  = "*"
	DefaultPolProgVars  = "sname pfn fsize atime mtime"
	redactedPlaceholder = "REDACTED"
)

// DefaultPolicy returns the built-in "*" purge policy: purge when free
// space drops below 2%, stop at 3%, keep files accessed in the last 20h.
func DefaultPolicy() Policy {
	return Policy{Space: DefaultPolicySpace, Min: DefaultPolicyMin, Max: DefaultPolicyMax,
		Hold: Duration(DefaultPolicyHold)}
}

// Default returns a Config holding every built-in default and nothing
// else (no exports, no spaces, no MSS): the starting point of both
// readers. It already satisfies Validate.
func Default() *Config {
	c := defaultBase()
	c.Purge.Policies = []Policy{DefaultPolicy()}
	return c
}

// defaultBase is Default without any slice-valued defaults, so that the
// TOML decoder (which decodes arrays into existing elements) starts clean.
func defaultBase() *Config {
	return &Config{
		Transfer: Transfer{
			CopyMax: DefaultCopyMax,
			QCheck:  Duration(DefaultQCheck),
			Deny:    Duration(DefaultDeny),
			Retries: DefaultRetries,
		},
		Migrate: Migrate{
			IdleHold: Duration(DefaultIdleHold),
			WaitTime: Duration(DefaultMigrWait),
		},
		Purge: Purge{
			DirHold:  Duration(DefaultDirHold),
			WaitTime: Duration(DefaultPurgeWait),
		},
		Catalog:  Catalog{Kind: DefaultCatalogKind},
		Checksum: Checksum{Default: DefaultChecksumAlg},
	}
}

// NormalizeInstance maps the instance names that mean "none" ("anon",
// "default") to "".
func NormalizeInstance(name string) string {
	if name == "anon" || name == "default" {
		return ""
	}
	return name
}

// ApplyDefaults fills in the derived defaults of a Config built by hand
// (Load and Parse already do this): normalised instance, roots and paths,
// migration wait time raised to the idle hold, the MSS backend implied by
// the roots and copy commands, the "*" purge policy and the values the
// other policies inherit from it. Safe to call more than once.
func (c *Config) ApplyDefaults() { c.finalize(nil) }

// finalize implements ApplyDefaults. holdGiven(i) reports whether policy i
// set its hold explicitly; nil means every policy did.
func (c *Config) finalize(holdGiven func(i int) bool) {
	c.Instance = NormalizeInstance(c.Instance)
	c.LocalRoot = trimRoot(c.LocalRoot, false)
	c.RemoteRoot = trimRoot(c.RemoteRoot, true)
	for i := range c.Exports {
		c.Exports[i].Path = trimSlash(c.Exports[i].Path)
	}
	for i := range c.Spaces {
		for j := range c.Spaces[i].Partitions {
			if p := c.Spaces[i].Partitions[j].Path; p != "" {
				c.Spaces[i].Partitions[j].Path = path.Clean(p)
			}
		}
	}
	if c.Migrate.WaitTime < c.Migrate.IdleHold {
		c.Migrate.WaitTime = c.Migrate.IdleHold
	}
	if c.MSS.Backend == "" {
		switch {
		case c.CopyCommands():
			c.MSS.Backend = "command"
		case c.RemoteRoot != "":
			c.MSS.Backend = "posix"
		}
	}
	if c.Catalog.Kind == "" {
		c.Catalog.Kind = DefaultCatalogKind
	}
	if c.Checksum.Default == "" {
		c.Checksum.Default = DefaultChecksumAlg
	}
	c.Checksum.Default = strings.ToLower(c.Checksum.Default)
	c.finalizePolicies(holdGiven)
}

func (c *Config) finalizePolicies(holdGiven func(i int) bool) {
	given := func(i int) bool { return holdGiven == nil || holdGiven(i) }
	star := -1
	for i := range c.Purge.Policies {
		if c.Purge.Policies[i].Space == DefaultPolicySpace {
			star = i
			break
		}
	}
	// Without a "*" policy the built-in one is added (at the end, so that
	// the indexes in messages still match the file).
	if star < 0 {
		c.Purge.Policies = append(c.Purge.Policies, DefaultPolicy())
		star = len(c.Purge.Policies) - 1
		old := given
		given = func(i int) bool { return i == star || old(i) }
	}
	builtin := DefaultPolicy()
	sp := &c.Purge.Policies[star]
	completePolicy(sp, builtin, given(star))
	dflt := *sp
	for i := range c.Purge.Policies {
		if i != star {
			completePolicy(&c.Purge.Policies[i], dflt, given(i))
		}
	}
}

// completePolicy fills in what p leaves unset from dflt and canonicalises
// the watermarks. Malformed watermarks are left alone for Validate.
func completePolicy(p *Policy, dflt Policy, holdGiven bool) {
	if !holdGiven {
		p.Hold, p.HoldForever = dflt.Hold, dflt.HoldForever
	}
	if p.HoldForever {
		p.Hold = 0
	}
	if p.NoPurge {
		p.Min, p.Max = "", ""
		return
	}
	if p.Min == "" && p.Max == "" {
		if dflt.NoPurge {
			p.NoPurge = true
			return
		}
		p.Min, p.Max = dflt.Min, dflt.Max
	}
	if p.Min == "" {
		return // Validate complains
	}
	minP, minB, minPct, err := ParseWatermark(p.Min)
	if err != nil {
		return
	}
	if minPct {
		p.Min = formatPercent(minP)
	} else {
		p.Min = Size(minB).String()
	}
	if p.Max == "" {
		if minPct {
			p.Max = formatPercent(min(minP+1, 100))
		} else {
			p.Max = Size(minB * 120 / 100).String()
		}
		return
	}
	maxP, maxB, maxPct, err := ParseWatermark(p.Max)
	if err != nil {
		return
	}
	if maxPct {
		p.Max = formatPercent(maxP)
	} else {
		p.Max = Size(maxB).String()
	}
}

// trimRoot strips trailing slashes from a root; a URL remote root keeps
// them (xrootd does the same).
func trimRoot(r string, isRemote bool) string {
	if r == "" || (isRemote && isURL(r)) {
		return r
	}
	return strings.TrimRight(r, "/")
}

// trimSlash strips trailing slashes except from "/" itself.
func trimSlash(p string) string {
	t := strings.TrimRight(p, "/")
	if t == "" && p != "" {
		return "/"
	}
	return t
}

func isURL(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.Contains(s[:i], "/")
}

// AdminDir is the frm admin directory: <AdminPath>/[<Instance>/]frm. When
// no admin path is configured it is $XRDADMINPATH/frm ($XRDADMINPATH is
// already instance qualified) or else /tmp/[<Instance>/]frm.
func (c *Config) AdminDir() string {
	inst := NormalizeInstance(c.Instance)
	base := c.AdminPath
	if base == "" {
		if x := os.Getenv("XRDADMINPATH"); x != "" {
			return filepath.Join(x, "frm")
		}
		base = "/tmp"
	}
	if inst != "" {
		return filepath.Join(base, inst, "frm")
	}
	return filepath.Join(base, "frm")
}

// QueueDir is where the transfer queue files live:
// <Transfer.QueuePath or AdminDir>/Queues.
func (c *Config) QueueDir() string {
	base := c.Transfer.QueuePath
	if base == "" {
		base = c.AdminDir()
	}
	return filepath.Join(base, "Queues")
}

// ExportFor returns the export governing lfn: the longest export path that
// is a prefix of lfn on path-component boundaries ("/store" covers "/store"
// and "/store/x" but not "/storex"). ok is false when none matches.
func (c *Config) ExportFor(lfn string) (Export, bool) {
	best, bestLen := -1, -1
	for i := range c.Exports {
		p := trimSlash(c.Exports[i].Path)
		if p == "" || len(p) <= bestLen {
			continue
		}
		if lfn == p || (strings.HasPrefix(lfn, p) && (p == "/" || lfn[len(p)] == '/')) {
			best, bestLen = i, len(p)
		}
	}
	if best < 0 {
		return Export{}, false
	}
	return c.Exports[best], true
}

// Space returns the named space.
func (c *Config) Space(name string) (*Space, bool) {
	for i := range c.Spaces {
		if c.Spaces[i].Name == name {
			return &c.Spaces[i], true
		}
	}
	return nil, false
}

// PolicyFor returns the purge policy of a space: its own, else the "*"
// default (Space "*"), else the built-in default.
func (c *Config) PolicyFor(space string) Policy {
	var star *Policy
	for i := range c.Purge.Policies {
		switch c.Purge.Policies[i].Space {
		case space:
			return c.Purge.Policies[i]
		case DefaultPolicySpace:
			if star == nil {
				star = &c.Purge.Policies[i]
			}
		}
	}
	if star != nil {
		return *star
	}
	return DefaultPolicy()
}

// CopyCommands reports whether any external copy command is configured.
func (c *Config) CopyCommands() bool {
	return len(c.MSS.CopyIn)+len(c.MSS.CopyOut)+len(c.MSS.CopyInURL)+len(c.MSS.CopyOutURL) > 0
}
