package config

import "runtime"

// DefaultS3PartSize is the S3 multipart part size when mss.s3.part_size
// is 0 (core/mss uses the same value).
const DefaultS3PartSize = 64 << 20

// DefaultMaxConns is the connection pool size of one process when
// catalog.max_conns is 0: pgxpool's own default, max(4, CPUs).
func DefaultMaxConns() int { return max(4, runtime.NumCPU()) }

// Effective returns a copy of c in which the settings whose zero value
// means "the default" hold that default, so that what frm config show
// prints is what runs: catalog.max_conns (max(4, CPUs) on this host),
// catalog.lease (60s), catalog.scan_interval (1m), scrub.interval (1d),
// scrub.readers (1) and, for the s3 backend, mss.s3.part_size (64m).
// Zeros that mean "none" stay (catalog.statement_timeout,
// mss.copy_timeout, partition caps), and so does an absent scrub.rate,
// which means two things (50m a second for the daemon, unlimited for
// chksum -r verify). Loading what WriteTOML writes of the result gives
// the same Effective configuration. c is not modified; the copy shares
// its slices.
func (c *Config) Effective() *Config {
	e := *c
	if e.Catalog.MaxConns == 0 {
		e.Catalog.MaxConns = DefaultMaxConns()
	}
	e.Catalog.Lease = Duration(e.Catalog.LeaseOrDefault())
	e.Catalog.ScanInterval = Duration(e.Catalog.ScanIntervalOrDefault())
	e.Scrub.Interval = Duration(e.Scrub.IntervalOrDefault())
	e.Scrub.Readers = e.Scrub.ReadersOrDefault()
	if e.MSS.Backend == "s3" && e.MSS.S3.PartSize == 0 {
		e.MSS.S3.PartSize = DefaultS3PartSize
	}
	return &e
}
