package config

import (
	"fmt"
	"strings"
	"time"
)

// Scrub configures the checksum scrubber: the daemon's scrub component,
// which re-reads every file with a current stored checksum and compares
// (docs/daemons.md), and `frm admin chksum -r verify`. xrootd has no
// equivalent.
type Scrub struct {
	// Enabled adds the scrub component to the daemon's default set (frm
	// daemon without -only); `-only scrub` runs it whatever this says.
	Enabled bool `toml:"enabled,omitempty"`
	// Rate bounds the reading, in bytes a second. Absent: the daemon
	// reads at DefaultScrubRate and the command as fast as it can; 0:
	// unlimited for both.
	Rate *Rate `toml:"rate,omitempty"`
	// Interval is the pause between the end of one pass and the start of
	// the next (0: DefaultScrubInterval).
	Interval Duration `toml:"interval,omitempty"`
	// Readers is the number of files read at once (0: 1). One keeps a
	// disk streaming; a second helps with many small files on devices
	// that serve parallel requests well (SSDs, arrays), and makes a single
	// disk seek (bench/scrub).
	Readers int `toml:"readers,omitempty"`
}

// MaxScrubReaders bounds [scrub] readers.
const MaxScrubReaders = 64

// ReadersOrDefault is the number of files read at once.
func (s Scrub) ReadersOrDefault() int { return max(s.Readers, 1) }

// Scrub defaults: a background pass must not take a disk's bandwidth from
// the server, and a day between passes finds rot long before a file is
// read by a user or purged.
const (
	DefaultScrubRate     = 50 << 20 // bytes a second
	DefaultScrubInterval = 24 * time.Hour
)

// DaemonRate is the daemon's scrub rate in bytes a second (0: unlimited).
func (s Scrub) DaemonRate() int64 {
	if s.Rate == nil {
		return DefaultScrubRate
	}
	return int64(*s.Rate)
}

// CommandRate is the rate of `chksum -r verify` (0: unlimited): an
// administrator asking now is not throttled unless the site says so.
func (s Scrub) CommandRate() int64 {
	if s.Rate == nil {
		return 0
	}
	return int64(*s.Rate)
}

// IntervalOrDefault is the pause between two passes.
func (s Scrub) IntervalOrDefault() time.Duration {
	if s.Interval > 0 {
		return s.Interval.Std()
	}
	return DefaultScrubInterval
}

func (c *Config) validateScrub(v *validator) {
	v.duration("scrub.interval", c.Scrub.Interval)
	if n := c.Scrub.Readers; n < 0 || n > MaxScrubReaders {
		v.add("scrub.readers", "must be 1 to %d (is %d)", MaxScrubReaders, n)
	}
	if r := c.Scrub.Rate; r != nil && *r < 0 {
		v.add("scrub.rate", "must not be negative (is %d)", int64(*r))
	}
}

// Rate is a number of bytes a second.
type Rate int64

// ParseRate parses a rate: a size as ParseSize takes it (powers of 1024,
// as everywhere in frm), optionally followed by "B" or "iB" and "/s":
// "50m", "50MB/s", "50MiB/s" are all 50 × 2^20 bytes a second; "0" means
// unlimited.
func ParseRate(s string) (int64, error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	num := strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "/S")
	if n := len(num); n >= 3 && strings.EqualFold(num[n-2:], "ib") && isUnit(num[n-3]) {
		num = num[:n-2]
	} else if n >= 2 && (num[n-1] == 'B' || num[n-1] == 'b') && (isUnit(num[n-2]) || num[n-2] >= '0' && num[n-2] <= '9') {
		num = num[:n-1]
	}
	v, err := ParseSize(num)
	if err != nil {
		return 0, fmt.Errorf("invalid rate %q: want bytes a second with an optional k, m, g or t suffix (powers of 1024), e.g. \"50m\" or \"50MB/s\"; 0 for unlimited", s)
	}
	return v, nil
}

func isUnit(b byte) bool { return strings.IndexByte("kKmMgGtT", b) >= 0 }

// String renders r as "50m/s" (ParseRate reads it back).
func (r Rate) String() string { return Size(r).String() + "/s" }

// MarshalText implements encoding.TextMarshaler.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseRate).
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = Rate(v)
	return nil
}

// UnmarshalTOML implements toml.Unmarshaler: an integer is bytes a
// second, a string is parsed by ParseRate.
func (r *Rate) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("invalid rate %d: negative", x)
		}
		*r = Rate(x)
		return nil
	case string:
		return r.UnmarshalText([]byte(x))
	}
	return fmt.Errorf("invalid rate %v: want bytes a second or a string such as \"50MB/s\"", v)
}
