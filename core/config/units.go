package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a time span the way xrootd writes them: an integer
// number of seconds with an optional single s, m, h or d suffix (either
// case), e.g. "600", "10m", "3H", "2d". Go duration syntax ("1h30m",
// "1.5h", "250ms") is accepted as well. Negative spans are refused.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("invalid duration %q: empty", s)
	}
	if t[0] == '-' {
		return 0, fmt.Errorf("invalid duration %q: negative", s)
	}
	num, unit := t, time.Second
	switch t[len(t)-1] {
	case 's', 'S':
		num, unit = t[:len(t)-1], time.Second
	case 'm', 'M':
		num, unit = t[:len(t)-1], time.Minute
	case 'h', 'H':
		num, unit = t[:len(t)-1], time.Hour
	case 'd', 'D':
		num, unit = t[:len(t)-1], 24*time.Hour
	}
	if num != "" && allDigits(num) {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > int64(math.MaxInt64/unit) {
			return 0, fmt.Errorf("invalid duration %q: out of range", s)
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want seconds with an optional s, m, h or d suffix (e.g. 600, 10m, 2d) or a Go duration (1h30m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: negative", s)
	}
	return d, nil
}

// ParseSize parses a byte count: a non-negative integer with an optional
// k, m, g or t suffix (either case, powers of 1024), e.g. "4096", "10k",
// "5M", "2g", "1t".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("invalid size %q: empty", s)
	}
	num, mult := t, int64(1)
	switch t[len(t)-1] {
	case 'k', 'K':
		num, mult = t[:len(t)-1], 1<<10
	case 'm', 'M':
		num, mult = t[:len(t)-1], 1<<20
	case 'g', 'G':
		num, mult = t[:len(t)-1], 1<<30
	case 't', 'T':
		num, mult = t[:len(t)-1], 1<<40
	}
	if num == "" || !allDigits(num) {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional k, m, g or t suffix", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: out of range", s)
	}
	return n * mult, nil
}

// ParseWatermark parses a purge watermark: a percentage of the space's
// total ("5%", "2.5%", 0..100) or an absolute size ("100g", see ParseSize).
func ParseWatermark(s string) (percent float64, bytes int64, isPercent bool, err error) {
	t := strings.TrimSpace(s)
	if strings.HasSuffix(t, "%") {
		num := strings.TrimSpace(t[:len(t)-1])
		if num == "" || !(num[0] >= '0' && num[0] <= '9' || num[0] == '.') {
			return 0, 0, true, fmt.Errorf("invalid percentage %q", s)
		}
		p, perr := strconv.ParseFloat(num, 64)
		if perr != nil || math.IsNaN(p) || p < 0 || p > 100 {
			return 0, 0, true, fmt.Errorf("invalid percentage %q: want 0%% to 100%%", s)
		}
		return p, 0, true, nil
	}
	b, serr := ParseSize(t)
	if serr != nil {
		return 0, 0, false, fmt.Errorf("invalid watermark %q: want a percentage (5%%) or a size (100g)", s)
	}
	return 0, b, false, nil
}

// formatPercent renders p as "N%" with no superfluous digits.
func formatPercent(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64) + "%"
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Seconds returns d in whole seconds (truncated), the unit xrootd uses.
func (d Duration) Seconds() int64 { return int64(time.Duration(d) / time.Second) }

// String renders d in the shortest exact xrootd form: "2d", "3h", "10m",
// "45s"; spans that are not whole seconds use Go syntax ("1.5s").
func (d Duration) String() string {
	td := time.Duration(d)
	switch {
	case td == 0:
		return "0s"
	case td < 0 || td%time.Second != 0:
		return td.String()
	case td%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	case td%time.Hour == 0:
		return strconv.FormatInt(int64(td/time.Hour), 10) + "h"
	case td%time.Minute == 0:
		return strconv.FormatInt(int64(td/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(td/time.Second), 10) + "s"
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseDuration).
// A TOML integer reaches it as its decimal text and so means seconds.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// UnmarshalTOML implements toml.Unmarshaler: a TOML integer is a number
// of seconds, a string is parsed by ParseDuration.
func (d *Duration) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("invalid duration %d: negative", x)
		}
		if x > int64(math.MaxInt64/time.Second) {
			return fmt.Errorf("invalid duration %d: out of range", x)
		}
		*d = Duration(time.Duration(x) * time.Second)
		return nil
	case string:
		return d.UnmarshalText([]byte(x))
	}
	return fmt.Errorf("invalid duration %v: want an integer number of seconds or a string such as \"10m\"", v)
}

// Bytes returns s as an int64.
func (s Size) Bytes() int64 { return int64(s) }

// String renders s compactly: "2g", "10k", or plain bytes ("1000") when
// no unit divides it exactly.
func (s Size) String() string {
	n := int64(s)
	if n == 0 {
		return "0"
	}
	for _, u := range []struct {
		sfx  string
		mult int64
	}{{"t", 1 << 40}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.sfx
		}
	}
	return strconv.FormatInt(n, 10)
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (see ParseSize). A
// TOML integer reaches it as its decimal text and so means bytes.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = Size(v)
	return nil
}

// UnmarshalTOML implements toml.Unmarshaler: a TOML integer is a number
// of bytes, a string is parsed by ParseSize.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("invalid size %d: negative", x)
		}
		*s = Size(x)
		return nil
	case string:
		return s.UnmarshalText([]byte(x))
	}
	return fmt.Errorf("invalid size %v: want an integer number of bytes or a string such as \"10g\"", v)
}
