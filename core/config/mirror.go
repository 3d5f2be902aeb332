package config

import (
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// Mirror is one [[mirror]]: products of a distribution (another frm
// site, or a static tree any web server serves) kept up to date under
// this site's namespace by frm mirror (docs/mirror.md).
type Mirror struct {
	Name string `toml:"name"`
	// Source is a [[peer]] name, or the https:// URL of a static
	// manifest (frm manifest build): the files are then at URLs relative
	// to it.
	Source string `toml:"source"`
	// Products are lfn prefixes at the source, each mirrored whether or
	// not the source lists it at its top.
	Products []string `toml:"products"`
	// Dest is the local lfn prefix the products land under ("": the same
	// names as at the source). With Dest, each product P lands at
	// Dest + P.
	Dest string `toml:"dest,omitempty"`
	// Delete removes local files the source no longer has.
	Delete bool `toml:"delete,omitempty"`
	// MaxDelete caps the deletions of one product in one run (default
	// 10% of its files): more stop the run before anything is deleted.
	MaxDelete MaxDelete `toml:"max_delete,omitempty"`
	// Transfers is the downloads at once (0: 4).
	Transfers int `toml:"transfers,omitempty"`
	// Schedule, for frm daemon: an interval ("24h") or a daily time
	// ("03:30", local time). "": the daemon does not run this mirror.
	Schedule string `toml:"schedule,omitempty"`
}

// DefaultMirrorTransfers is the downloads at once of a mirror.
const DefaultMirrorTransfers = 4

// TransfersOrDefault is the downloads at once.
func (m Mirror) TransfersOrDefault() int {
	if m.Transfers > 0 {
		return m.Transfers
	}
	return DefaultMirrorTransfers
}

// DestOf is the local lfn of the source lfn src (under product).
func (m Mirror) DestOf(src string) string {
	if m.Dest == "" {
		return src
	}
	return path.Join(m.Dest, src)
}

// StaticSource reports whether the source is a static manifest's URL.
func (m Mirror) StaticSource() bool {
	return strings.HasPrefix(m.Source, "https://") || strings.HasPrefix(m.Source, "http://")
}

// MaxDelete is a count of files ("25", 25) or a percentage of a
// product's files ("10%"). The zero value is the default, 10%.
type MaxDelete struct {
	n       int // -1: a percentage
	percent float64
	set     bool
}

// Limit is the deletions allowed in a product of n files.
func (d MaxDelete) Limit(n int) int {
	if !d.set {
		return n / 10
	}
	if d.n < 0 {
		return int(float64(n) * d.percent / 100)
	}
	return d.n
}

// ParseMaxDelete reads "N" or "N%".
func ParseMaxDelete(s string) (MaxDelete, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f > 100 {
			return MaxDelete{}, fmt.Errorf("max_delete %q: want a count or a percentage 0%%..100%%", s)
		}
		return MaxDelete{percent: f, n: -1, set: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return MaxDelete{}, fmt.Errorf("max_delete %q: want a count or a percentage such as \"10%%\"", s)
	}
	return MaxDelete{n: n, set: true}, nil
}

// UnmarshalTOML accepts an integer or a string.
func (d *MaxDelete) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("max_delete %d: must not be negative", x)
		}
		*d = MaxDelete{n: int(x), set: true}
		return nil
	case string:
		m, err := ParseMaxDelete(x)
		if err != nil {
			return err
		}
		*d = m
		return nil
	}
	return fmt.Errorf("max_delete: want a count or a percentage such as \"10%%\" (is %v)", v)
}

// MarshalText writes what ParseMaxDelete reads.
func (d MaxDelete) MarshalText() ([]byte, error) {
	switch {
	case !d.set:
		return []byte("10%"), nil
	case d.n < 0:
		return []byte(strconv.FormatFloat(d.percent, 'f', -1, 64) + "%"), nil
	}
	return []byte(strconv.Itoa(d.n)), nil
}

// UnmarshalText reads what MarshalText writes.
func (d *MaxDelete) UnmarshalText(b []byte) error { return d.UnmarshalTOML(string(b)) }

func (c *Config) validateMirrors(v *validator) {
	peers := map[string]bool{}
	for _, p := range c.Peers {
		peers[p.Name] = true
	}
	seen := map[string]bool{}
	for i, m := range c.Mirrors {
		key := fmt.Sprintf("mirror[%d]", i)
		switch {
		case m.Name == "":
			v.add(key+".name", "must be set")
		case !ValidSpaceName(m.Name):
			v.add(key+".name", "invalid mirror name %q (1 to 63 characters of A-Z a-z 0-9 _ . -)", m.Name)
		case seen[m.Name]:
			v.add(key+".name", "mirror %q is listed twice", m.Name)
		}
		seen[m.Name] = true
		switch {
		case m.Source == "":
			v.add(key+".source", "must be set: a [[peer]] name or the https:// URL of a manifest")
		case m.StaticSource():
			if u, err := url.Parse(m.Source); err != nil || u.Host == "" {
				v.add(key+".source", "not a URL: %q", m.Source)
			}
		case !peers[m.Source]:
			v.add(key+".source", "no [[peer]] is called %q (a source is a peer name or an https:// URL)", m.Source)
		}
		if len(m.Products) == 0 {
			v.add(key+".products", "must list at least one product (an lfn prefix at the source)")
		}
		for j, p := range m.Products {
			if !cleanAbs(p) {
				v.add(fmt.Sprintf("%s.products[%d]", key, j), "must be a clean absolute path: %q", p)
			}
		}
		if m.Dest != "" && !cleanAbs(m.Dest) {
			v.add(key+".dest", "must be a clean absolute path: %q", m.Dest)
		}
		for _, p := range m.Products {
			if !cleanAbs(p) {
				continue
			}
			if _, ok := c.ExportFor(m.DestOf(p)); !ok {
				v.add(key+".dest", "%s is in no [[export]]: the mirrored files must land in an exported path", m.DestOf(p))
			}
		}
		v.count(key+".transfers", m.Transfers, 0, 256, "")
		if m.Schedule != "" {
			if _, err := ParseSchedule(m.Schedule); err != nil {
				v.add(key+".schedule", "%v", err)
			}
		}
	}
}

func cleanAbs(p string) bool {
	return strings.HasPrefix(p, "/") && path.Clean(p) == p && strings.IndexByte(p, 0) < 0
}
