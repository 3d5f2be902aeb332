package config

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// MaxSpaceName is the longest space name xrootd accepts.
const MaxSpaceName = 63

// ValidSpaceName reports whether name is a usable space name: 1 to 63
// characters of [A-Za-z0-9_.-].
func ValidSpaceName(name string) bool {
	if name == "" || len(name) > MaxSpaceName {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameChar(name[i]) {
			return false
		}
	}
	return true
}

func nameChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '_' || b == '.' || b == '-'
}

// Checksum algorithms frm implements.
var checksumAlgs = []string{"adler32", "crc32", "crc32c", "md5"}

// Purge policy program variables (frm.purge.polprog).
var polProgVars = []string{"atime", "ctime", "fname", "fsize", "fspace", "mtime", "pfn", "sname", "tspace", "usage"}

func oneOf(s string, list []string) bool {
	for _, l := range list {
		if s == l {
			return true
		}
	}
	return false
}

// Validate checks the configuration and returns every problem found,
// each as "<source>: <key>: <what is wrong>" (joined with errors.Join).
func (c *Config) Validate() error { return c.validateAt(nil) }

// validateAt is Validate naming a key by where, when it holds the key (or
// one of its parents, "purge.policy[1]" for "purge.policy[1].hold"): for
// xrootd files "file:line: directive", the key as the user wrote it.
func (c *Config) validateAt(where map[string]string) error {
	v := &validator{src: c.Source, where: where}
	c.validate(v)
	c.validateTUI(v)
	c.validateScrub(v)
	c.validateQueue(v)
	v.absPath("pid_path", c.PidPath, false)
	c.validateFederation(v)
	c.validateSites(v)
	c.validateMirrors(v)
	return v.err()
}

type validator struct {
	src   string
	where map[string]string
	errs  []error
}

func (v *validator) add(key, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	for k := key; k != ""; k = parentKey(k) {
		if loc, ok := v.where[k]; ok {
			if rest := strings.TrimPrefix(key[len(k):], "."); rest != "" {
				detail = rest + ": " + detail
			}
			v.errs = append(v.errs, errors.New(loc+": "+detail))
			return
		}
	}
	msg := key + ": " + detail
	if v.src != "" {
		msg = v.src + ": " + msg
	}
	v.errs = append(v.errs, errors.New(msg))
}

// parentKey is "a.b" for "a.b.c" and "a.b[2]", "" for "a".
func parentKey(k string) string {
	if i := strings.LastIndexAny(k, ".["); i > 0 {
		return k[:i]
	}
	return ""
}

func (v *validator) err() error { return errors.Join(v.errs...) }

func (v *validator) absPath(key, p string, required bool) {
	switch {
	case p == "":
		if required {
			v.add(key, "must be set")
		}
	case !strings.HasPrefix(p, "/"):
		v.add(key, "must be absolute: %q", p)
	case strings.IndexByte(p, 0) >= 0:
		v.add(key, "contains a NUL byte")
	}
}

// Limits of the numeric keys that are not plain "not negative".
const (
	// MinInterval is the shortest period of a daemon loop (transfer.qcheck,
	// migrate.wait_time, purge.wait_time; xrootd counts them in seconds):
	// 0 makes time.NewTicker panic, a few milliseconds a busy loop.
	MinInterval = time.Second
	// MaxRetries bounds transfer.retries: the backoff doubles at every
	// retry (2s << 20 is 24 days) and would overflow past 32.
	MaxRetries = 20
	// MaxConns is PostgreSQL's own limit on max_connections.
	MaxConns = 262143
	// MaxStatementTimeout is PostgreSQL's limit on statement_timeout
	// (an int of milliseconds).
	MaxStatementTimeout = (1<<31 - 1) * time.Millisecond
	// S3 part sizes: 5 MiB to 5 GiB (the S3 limits; one part is held in
	// memory while it is sent).
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
)

// duration checks that d is not negative.
func (v *validator) duration(key string, d Duration) {
	if d < 0 {
		v.add(key, "must not be negative (is %s)", d)
	}
}

// interval checks that d is at least min.
func (v *validator) interval(key string, d Duration, min time.Duration) {
	if d.Std() < min {
		v.add(key, "must be at least %s (is %s)", Duration(min), d)
	}
}

// count checks lo <= n <= hi (hi < 0: no upper bound).
func (v *validator) count(key string, n, lo, hi int, why string) {
	switch {
	case n < lo && lo == 0:
		v.add(key, "must not be negative (is %d)", n)
	case n < lo:
		v.add(key, "must be at least %d (is %d)", lo, n)
	case hi >= 0 && n > hi:
		v.add(key, "must be at most %d%s (is %d)", hi, why, n)
	}
}

func (c *Config) validate(v *validator) {
	if c.Instance != "" && (!ValidSpaceName(c.Instance) || c.Instance == "." || c.Instance == "..") {
		v.add("instance", "invalid instance name %q (1 to 63 characters of A-Z a-z 0-9 _ . -)", c.Instance)
	}
	v.absPath("admin_path", c.AdminPath, false)
	v.absPath("local_root", c.LocalRoot, false)
	if c.RemoteRoot != "" && !isURL(c.RemoteRoot) {
		v.absPath("remote_root", c.RemoteRoot, false)
	}

	seen := map[string]int{}
	for i, e := range c.Exports {
		key := fmt.Sprintf("export[%d].path", i)
		switch {
		case e.Path == "":
			v.add(key, "must be set")
			continue
		case !strings.HasPrefix(e.Path, "/"):
			v.add(key, "must be absolute: %q", e.Path)
			continue
		case path.Clean(e.Path) != trimSlash(e.Path):
			v.add(key, "must be a clean path (no //, . or ..): %q", e.Path)
			continue
		}
		p := trimSlash(e.Path)
		if j, dup := seen[p]; dup {
			v.add(key, "%s is already exported by export[%d]", p, j)
		}
		seen[p] = i
		if e.NoXattrs && (e.Mig || e.Purge) {
			v.add(fmt.Sprintf("export[%d]", i), "noxattrs cannot be combined with mig or purge (%s)", p)
		}
	}

	names := map[string]int{}
	for i, s := range c.Spaces {
		key := fmt.Sprintf("space[%d]", i)
		if !ValidSpaceName(s.Name) {
			v.add(key+".name", "invalid space name %q (1 to 63 characters of A-Z a-z 0-9 _ . -)", s.Name)
		} else if j, dup := names[s.Name]; dup {
			v.add(key+".name", "space %q is already defined by space[%d]", s.Name, j)
		}
		names[s.Name] = i
		if len(s.Partitions) == 0 {
			v.add(key+".partitions", "space %q has no partitions", s.Name)
		}
		parts := map[string]int{}
		for j, p := range s.Partitions {
			pk := fmt.Sprintf("%s.partitions[%d]", key, j)
			if p.Path == "" || !strings.HasPrefix(p.Path, "/") {
				v.add(pk+".path", "must be absolute: %q", p.Path)
				continue
			}
			if path.Clean(p.Path) != p.Path {
				v.add(pk+".path", "must be a clean path: %q", p.Path)
			}
			if k, dup := parts[p.Path]; dup {
				v.add(pk+".path", "%s is already listed as partitions[%d] of space %q", p.Path, k, s.Name)
			}
			parts[p.Path] = j
			if p.Cap < 0 {
				v.add(pk+".cap", "must not be negative (is %d)", p.Cap)
			}
		}
	}

	c.validateMSS(v)

	t := c.Transfer
	// Slots are goroutines of running transfers, nothing allocated ahead:
	// no upper bound.
	v.count("transfer.copy_max", t.CopyMax, 1, -1, "")
	v.count("transfer.copy_max_in", t.CopyMaxIn, 0, -1, "")
	v.count("transfer.copy_max_out", t.CopyMaxOut, 0, -1, "")
	v.count("transfer.retries", t.Retries, 0, MaxRetries, "")
	v.interval("transfer.qcheck", t.QCheck, MinInterval)
	v.duration("transfer.deny", t.Deny)
	v.absPath("transfer.queue_path", t.QueuePath, false)
	v.absPath("transfer.fail_dir", t.FailDir, false)
	v.duration("migrate.idle_hold", c.Migrate.IdleHold)
	v.interval("migrate.wait_time", c.Migrate.WaitTime, MinInterval)

	c.validatePurge(v)

	switch c.Catalog.Kind {
	case "embedded", "postgres":
	default:
		v.add("catalog.kind", "must be embedded or postgres (is %q)", c.Catalog.Kind)
	}
	v.count("catalog.max_conns", c.Catalog.MaxConns, 0, MaxConns, ", PostgreSQL's limit")
	switch st := c.Catalog.StatementTimeout; {
	case st < 0:
		v.duration("catalog.statement_timeout", st)
	case st > 0 && st.Std() < time.Millisecond: // PostgreSQL counts milliseconds: it would be 0, none
		v.add("catalog.statement_timeout", "must be 0 (none) or at least 1ms (is %s)", st)
	case st.Std() > MaxStatementTimeout:
		v.add("catalog.statement_timeout", "must be at most %s, PostgreSQL's limit (is %s)", Duration(MaxStatementTimeout), st)
	}
	v.duration("catalog.lease", c.Catalog.Lease)
	if d := c.Catalog.ScanInterval; d != 0 {
		v.interval("catalog.scan_interval", d, time.Second)
	}
	if l := c.Catalog.Lease.Std(); l > 0 && l < 3*time.Second {
		v.add("catalog.lease", "must be at least 3s, the lease is renewed every third of it (is %s)", c.Catalog.Lease)
	}
	v.absPath("usage.log_dir", c.Usage.LogDir, false)
	if !oneOf(c.Checksum.Default, checksumAlgs) {
		v.add("checksum.default", "unsupported algorithm %q (want one of %s)", c.Checksum.Default, strings.Join(checksumAlgs, ", "))
	}
}

func (c *Config) validateMSS(v *validator) {
	m := c.MSS
	checkCmd := func(key string, argv []string) {
		if len(argv) == 0 {
			return
		}
		if !strings.HasPrefix(argv[0], "/") {
			v.add(key, "program must be an absolute path: %q", argv[0])
		}
	}
	checkCmd("mss.copy_in", m.CopyIn)
	checkCmd("mss.copy_out", m.CopyOut)
	checkCmd("mss.copy_in_url", m.CopyInURL)
	checkCmd("mss.copy_out_url", m.CopyOutURL)
	checkCmd("mss.rename_cmd", m.RenameCmd)
	if len(m.RenameCmd) > 0 && m.Backend != "command" && m.Backend != "" {
		// A command that would never run is a configuration mistake, not
		// something to ignore silently.
		v.add("mss.rename_cmd", "only the command backend runs a rename command (%s renames by itself)", m.Backend)
	}
	v.duration("mss.copy_timeout", m.CopyTimeout)
	var badStatus []string
	for _, st := range m.PermanentStatus {
		if st < 1 || st > 255 || st == 2 {
			badStatus = append(badStatus, strconv.Itoa(st))
		}
	}
	if len(badStatus) > 0 {
		// One message for the key, whatever the number of bad values.
		v.add("mss.permanent_status", "must list exit statuses from 1 to 255 but 2, which already means \"file not found\" (has %s)", strings.Join(badStatus, ", "))
	}
	switch m.Backend {
	case "":
	case "posix":
		if c.RemoteRoot == "" {
			v.add("mss.backend", "posix needs remote_root (the mounted MSS tree)")
		} else if isURL(c.RemoteRoot) {
			v.add("mss.backend", "posix needs a directory as remote_root, not a URL (%s)", c.RemoteRoot)
		}
	case "command":
		if !c.CopyCommands() {
			v.add("mss.backend", "command needs copy_in and/or copy_out")
		}
	case "s3":
		if m.S3.Bucket == "" {
			v.add("mss.s3.bucket", "must be set for the s3 backend")
		}
		if ps := m.S3.PartSize; ps != 0 && (ps < MinPartSize || ps > MaxPartSize) {
			v.add("mss.s3.part_size", "must be 0 (the default, 64m) or from %s to %s (is %s)", Size(MinPartSize), Size(MaxPartSize), ps)
		}
	default:
		v.add("mss.backend", "must be posix, command or s3 (is %q)", m.Backend)
	}
}

func (c *Config) validatePurge(v *validator) {
	// 0 is no "at once": the purger would take it as its default (40h).
	v.interval("purge.dir_hold", c.Purge.DirHold, time.Second)
	v.interval("purge.wait_time", c.Purge.WaitTime, MinInterval)
	for i, name := range c.Purge.PolVars {
		if !oneOf(name, polProgVars) {
			v.add(fmt.Sprintf("purge.polprog_vars[%d]", i), "unknown variable %q (want one of %s)", name, strings.Join(polProgVars, " "))
		}
	}
	seen := map[string]int{}
	for i, p := range c.Purge.Policies {
		key := fmt.Sprintf("purge.policy[%d]", i)
		if p.Space != DefaultPolicySpace && !ValidSpaceName(p.Space) {
			v.add(key+".space", "invalid space name %q (a space name or *)", p.Space)
		} else if j, dup := seen[p.Space]; dup {
			v.add(key+".space", "space %q already has a policy (purge.policy[%d])", p.Space, j)
		}
		seen[p.Space] = i
		v.duration(key+".hold", p.Hold)
		if p.UsePolProg && len(c.Purge.PolProg) == 0 {
			v.add(key+".polprog", "needs purge.polprog (the policy program)")
		}
		if p.NoPurge {
			continue
		}
		if p.Min == "" {
			v.add(key+".min", "must be set (or nopurge)")
			continue
		}
		minP, minB, minPct, err := ParseWatermark(p.Min)
		if err != nil {
			v.add(key+".min", "%v", err)
			continue
		}
		if p.Max == "" {
			continue
		}
		maxP, maxB, maxPct, err := ParseWatermark(p.Max)
		if err != nil {
			v.add(key+".max", "%v", err)
			continue
		}
		switch {
		case minPct != maxPct:
			v.add(key, "min and max must both be percentages or both sizes (%s, %s)", p.Min, p.Max)
		case minPct && minP >= maxP && !(minP == 100 && maxP == 100), !minPct && minB >= maxB:
			v.add(key, "min must be < max (%s, %s)", p.Min, p.Max)
		}
	}
}
