package config

import (
	"errors"
	"fmt"
	"path"
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
func (c *Config) Validate() error {
	v := &validator{src: c.Source}
	c.validate(v)
	c.validateTUI(v)
	c.validateScrub(v)
	return v.err()
}

type validator struct {
	src  string
	errs []error
}

func (v *validator) add(key, format string, args ...any) {
	msg := key + ": " + fmt.Sprintf(format, args...)
	if v.src != "" {
		msg = v.src + ": " + msg
	}
	v.errs = append(v.errs, errors.New(msg))
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

func (v *validator) duration(key string, d Duration) {
	if d < 0 {
		v.add(key, "must not be negative")
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
				v.add(pk+".cap", "must not be negative")
			}
		}
	}

	c.validateMSS(v)

	t := c.Transfer
	if t.CopyMax < 1 {
		v.add("transfer.copy_max", "must be at least 1 (is %d)", t.CopyMax)
	}
	if t.CopyMaxIn < 0 {
		v.add("transfer.copy_max_in", "must not be negative")
	}
	if t.CopyMaxOut < 0 {
		v.add("transfer.copy_max_out", "must not be negative")
	}
	if t.Retries < 0 {
		v.add("transfer.retries", "must not be negative")
	}
	v.duration("transfer.qcheck", t.QCheck)
	v.duration("transfer.deny", t.Deny)
	v.absPath("transfer.queue_path", t.QueuePath, false)
	v.absPath("transfer.fail_dir", t.FailDir, false)
	v.duration("migrate.idle_hold", c.Migrate.IdleHold)
	v.duration("migrate.wait_time", c.Migrate.WaitTime)

	c.validatePurge(v)

	switch c.Catalog.Kind {
	case "embedded", "postgres":
	default:
		v.add("catalog.kind", "must be embedded or postgres (is %q)", c.Catalog.Kind)
	}
	if c.Catalog.MaxConns < 0 {
		v.add("catalog.max_conns", "must not be negative (is %d)", c.Catalog.MaxConns)
	}
	v.duration("catalog.statement_timeout", c.Catalog.StatementTimeout)
	v.duration("catalog.lease", c.Catalog.Lease)
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
	for _, st := range m.PermanentStatus {
		switch {
		case st < 1 || st > 255:
			v.add("mss.permanent_status", "%d is not an exit status (1-255)", st)
		case st == 2:
			v.add("mss.permanent_status", "2 already means \"file not found\" (no retry, the fail file's not-found mark)")
		}
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
		if m.S3.PartSize < 0 {
			v.add("mss.s3.part_size", "must not be negative")
		}
	default:
		v.add("mss.backend", "must be posix, command or s3 (is %q)", m.Backend)
	}
}

func (c *Config) validatePurge(v *validator) {
	v.duration("purge.dir_hold", c.Purge.DirHold)
	v.duration("purge.wait_time", c.Purge.WaitTime)
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
