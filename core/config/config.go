// Package config owns frm's site configuration: the native TOML schema, the
// reader for existing xrootd configuration files, validation, and the
// derived views (export lookup, admin and queue paths) the rest of frm uses.
//
// A Config is immutable once Load returns; daemons reload by loading a new
// one and swapping it in.
package config

import "time"

// Config is the effective configuration of one frm site (one instance).
type Config struct {
	// Site is the site name (all.sitename); informational.
	Site string `toml:"site,omitempty"`
	// Instance is the instance name (-n, $XRDNAME); "" means none.
	// "anon" and "default" are normalised to "".
	Instance string `toml:"instance,omitempty"`

	// AdminPath is the base admin directory (all.adminpath). The frm
	// admin directory is AdminPath/[Instance/]frm (see AdminDir).
	AdminPath string `toml:"admin_path,omitempty"`
	// AdminGroup makes the admin directory group accessible (0770).
	AdminGroup bool `toml:"admin_group,omitempty"`
	// PidPath is where frm_purged and frm_xfrd (frm under those names)
	// write their pid files, as xrootd's do (all.pidpath; default /tmp).
	PidPath string `toml:"pid_path,omitempty"`

	// LocalRoot is prefixed to every lfn to form the pfn (oss.localroot).
	LocalRoot string `toml:"local_root,omitempty"`
	// RemoteRoot is prefixed to every lfn to form the rfn (oss.remoteroot).
	RemoteRoot string `toml:"remote_root,omitempty"`

	Exports []Export `toml:"export,omitempty"`
	Spaces  []Space  `toml:"space,omitempty"`

	MSS      MSS      `toml:"mss,omitempty"`
	Transfer Transfer `toml:"transfer,omitempty"`
	Queue    Queue    `toml:"queue,omitempty"`
	Migrate  Migrate  `toml:"migrate,omitempty"`
	Purge    Purge    `toml:"purge,omitempty"`
	Catalog  Catalog  `toml:"catalog,omitempty"`
	Usage    Usage    `toml:"usage,omitempty"`
	Checksum Checksum `toml:"checksum,omitempty"`
	Scrub    Scrub    `toml:"scrub,omitempty"`
	TUI      TUI      `toml:"tui,omitempty"`
	Serve    Serve    `toml:"serve,omitempty"`
	Peers    []Peer   `toml:"peer,omitempty"`
	Fetch    Fetch    `toml:"fetch,omitempty"`
	Mirrors  []Mirror `toml:"mirror,omitempty"`
	Sites    Sites    `toml:"sites,omitempty"`

	// Source is the file the config was read from, Format "toml" or
	// "xrootd". Not part of the TOML schema.
	Source string `toml:"-"`
	Format string `toml:"-"`
	// Warnings are what the reader found suspicious but could read
	// ("file:line: ..."): unknown frm.* directives, ignored options. Every
	// command that loads a configuration shows them; frm config check
	// fails on them. Not part of the TOML schema.
	Warnings []string `toml:"-"`
}

// Export is one exported path prefix and its FRM-relevant options
// (all.export / oss.path). The longest matching prefix wins.
type Export struct {
	Path     string `toml:"path"`
	Mig      bool   `toml:"mig,omitempty"`      // files are migrated to the MSS
	Stage    bool   `toml:"stage,omitempty"`    // files may be staged from the MSS
	Purge    bool   `toml:"purge,omitempty"`    // files may be purged from disk
	ReadOnly bool   `toml:"readonly,omitempty"` // r/o, notwritable
	NoCheck  bool   `toml:"nocheck,omitempty"`  // do not check the MSS for existence
	MMap     bool   `toml:"mmap,omitempty"`
	MLock    bool   `toml:"mlock,omitempty"`
	MKeep    bool   `toml:"mkeep,omitempty"`
	NoXattrs bool   `toml:"noxattrs,omitempty"`
	// Peers are the [[peer]] sites a missing file of this export is
	// fetched from (frm only; docs/federation.md).
	Peers []string `toml:"peers,omitempty"`
}

// Space is a named set of partitions (oss.space) holding XA data files.
type Space struct {
	Name       string      `toml:"name"`
	Partitions []Partition `toml:"partitions"`
}

// Partition is one directory of a space. Data files live under
// Path/<space name>/XX/. Cap, when > 0, limits the bytes frm will place
// there (a soft quota on shared filesystems).
type Partition struct {
	Path string `toml:"path"`
	Cap  Size   `toml:"cap,omitempty,omitzero"`
}

// MSS describes the mass storage backend.
type MSS struct {
	// Backend is "posix" (RemoteRoot is a mounted tree), "command"
	// (external copy commands) or "s3".
	Backend string `toml:"backend,omitempty"`
	// CopyIn/CopyOut are argument vectors with $SRC $DST ... variables
	// (frm.xfr.copycmd in / out).
	CopyIn  []string `toml:"copy_in,omitempty"`
	CopyOut []string `toml:"copy_out,omitempty"`
	// CopyInURL/CopyOutURL are used when the source (in) or the
	// destination (out) is a URL rather than an rfn (copycmd url).
	CopyInURL  []string `toml:"copy_in_url,omitempty"`
	CopyOutURL []string `toml:"copy_out_url,omitempty"`
	// RenameCmd renames an MSS copy ($SRC the old rfn, $DST the new one)
	// for the command backend, so a migrated file renamed in the
	// namespace keeps its copy reachable (posix and s3 rename natively).
	// Without it such a file is migrated again under its new name. frm
	// only; xrootd has no equivalent.
	RenameCmd []string `toml:"rename_cmd,omitempty"`
	// NoAlloc: stage-ins write the pfn directly instead of pre-allocating
	// a placeholder in a space (copycmd noalloc).
	NoAlloc bool `toml:"noalloc,omitempty"`
	// RmErr removes a partially fetched file when a stage-in fails
	// (copycmd rmerr; always done unless NoAlloc).
	RmErr bool `toml:"rmerr,omitempty"`
	// Stats logs transfer statistics for each copy (copycmd stats).
	Stats bool `toml:"stats,omitempty"`
	// CopyTimeout bounds one external copy (copycmd timeout).
	CopyTimeout Duration `toml:"copy_timeout,omitempty,omitzero"`
	// PermanentStatus lists copy-command exit statuses that mean the
	// file cannot be transferred (no retry, a .fail file). Every other
	// non-zero status but 2 (not found) is retried (transfer.retries).
	PermanentStatus []int `toml:"permanent_status,omitempty"`
	S3              S3    `toml:"s3,omitempty"`
}

// S3 settings for an S3-compatible object store. Credentials may come from
// the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
type S3 struct {
	Endpoint  string `toml:"endpoint,omitempty"`
	Bucket    string `toml:"bucket,omitempty"`
	Prefix    string `toml:"prefix,omitempty"`
	Region    string `toml:"region,omitempty"`
	AccessKey string `toml:"access_key,omitempty"`
	SecretKey string `toml:"secret_key,omitempty"`
	Secure    bool   `toml:"secure,omitempty"`
	PartSize  Size   `toml:"part_size,omitempty,omitzero"`
}

// Transfer settings (frm.xfr.*, oss.xfr).
type Transfer struct {
	CopyMax    int      `toml:"copy_max,omitempty"`              // parallel transfers, default 2
	CopyMaxIn  int      `toml:"copy_max_in,omitempty,omitzero"`  // copymax split in
	CopyMaxOut int      `toml:"copy_max_out,omitempty,omitzero"` // copymax split out
	QCheck     Duration `toml:"qcheck,omitempty"`                // queue poll interval, default 300s
	QueuePath  string   `toml:"queue_path,omitempty"`            // base of Queues/, default AdminDir
	Deny       Duration `toml:"deny,omitempty"`                  // fail-file hold, default 3h
	FailDir    string   `toml:"fail_dir,omitempty"`              // oss.xfr fdir
	Retries    int      `toml:"retries,omitempty"`               // transient-error retries, default 3
}

// Migrate settings (frm.xfr.migr.*).
type Migrate struct {
	IdleHold Duration `toml:"idle_hold,omitempty"` // default 600s
	WaitTime Duration `toml:"wait_time,omitempty"` // default 3600s, raised to IdleHold
}

// Purge settings (frm.purge.*).
type Purge struct {
	DirHold  Duration `toml:"dir_hold,omitempty"`  // default 40h
	WaitTime Duration `toml:"wait_time,omitempty"` // default 600s
	PolProg  []string `toml:"polprog,omitempty"`   // external policy program argv
	// PolVars are the per-file values sent to PolProg, in order (atime
	// ctime fname fsize fspace mtime pfn sname tspace usage). Empty means
	// the default "sname pfn fsize atime mtime".
	PolVars  []string `toml:"polprog_vars,omitempty"`
	Policies []Policy `toml:"policy,omitempty"`
}

// Policy is the purge policy of one space ("*" = default for all).
type Policy struct {
	Space string `toml:"space"`
	// Min and Max are free-space watermarks: "5%" or a size ("100g").
	Min         string   `toml:"min,omitempty"`
	Max         string   `toml:"max,omitempty"`
	NoPurge     bool     `toml:"nopurge,omitempty"`
	Hold        Duration `toml:"hold,omitempty"`
	HoldForever bool     `toml:"hold_forever,omitempty"`
	UsePolProg  bool     `toml:"polprog,omitempty"`
}

// Catalog selects where residency state is kept.
type Catalog struct {
	// Kind is "embedded" (xattrs and files, the default) or "postgres".
	Kind string `toml:"kind,omitempty"`
	DSN  string `toml:"dsn,omitempty"`
	// MaxConns bounds the connection pool of one process (0: max(4, CPUs)).
	MaxConns int `toml:"max_conns,omitempty"`
	// StatementTimeout cancels a statement that runs longer (0: none).
	StatementTimeout Duration `toml:"statement_timeout,omitempty"`
	// Lease is how long a claimed request stays with its host without a
	// renewal (renewed every third of it); a host silent that long loses
	// its requests to the others. 0: DefaultLease.
	Lease Duration `toml:"lease,omitempty"`
	// ScanInterval is the period of the daemon's pass that finds changes
	// made to this host's files outside frm (core/site Discover). 0:
	// DefaultScanInterval.
	ScanInterval Duration `toml:"scan_interval,omitempty"`
}

// DefaultScanInterval is the discovery period when catalog.scan_interval
// is not set: the longest time a file written outside frm stays unknown
// to a shared catalog, plus the pass itself.
const DefaultScanInterval = Duration(time.Minute)

// ScanIntervalOrDefault is the configured discovery period, or the
// default.
func (c Catalog) ScanIntervalOrDefault() time.Duration {
	if c.ScanInterval > 0 {
		return c.ScanInterval.Std()
	}
	return DefaultScanInterval.Std()
}

// DefaultLease is the request lease when catalog.lease is not set.
const DefaultLease = Duration(60 * time.Second)

// LeaseOrDefault is the configured lease, or DefaultLease.
func (c Catalog) LeaseOrDefault() time.Duration {
	if c.Lease > 0 {
		return c.Lease.Std()
	}
	return DefaultLease.Std()
}

// Usage tracking (oss.usage log DIR).
type Usage struct {
	LogDir string `toml:"log_dir,omitempty"`
}

// Checksum settings (xrootd.chksum).
type Checksum struct {
	Default string `toml:"default,omitempty"` // default adler32
}

// Duration is a time span written as xrootd does ("600", "10m", "3h",
// "2d") or as a Go duration ("1h30m").
type Duration time.Duration

// Size is a byte count written as a number with an optional k, m, g, t
// suffix (powers of 1024).
type Size int64
