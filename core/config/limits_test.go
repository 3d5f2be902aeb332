package config

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// numericKey is one duration, count or size of the configuration, set to
// a value in TOML and (when xrootd has a directive for it) in an xrootd
// file. bad maps values to the text of their error; ok values load.
type numericKey struct {
	key  string                // TOML key, as validation names it
	toml func(v string) string // a TOML file setting key to v
	xkey string                // the xrootd directive ("" when none)
	xrd  func(v string) string // an xrootd file setting it to v (quotes removed)
	ok   []string
	bad  map[string]string
}

const (
	maxDurSecs = "9223372036" // the longest duration in seconds (292 years)
	overDurs   = "9223372037"
	maxInt64   = "9223372036854775807"
)

func tomlIn(table, key string) func(string) string {
	return func(v string) string { return "[" + table + "]\n" + key + " = " + v + "\n" }
}

// mirrorTOML sets key of a valid [[mirror]].
func mirrorTOML(key string) func(string) string {
	return func(v string) string {
		return "[[export]]\npath = \"/store\"\n[[peer]]\nname = \"b\"\nurl = \"https://b.example:8443\"\n" +
			"[[mirror]]\nname = \"m\"\nsource = \"b\"\nproducts = [\"/store/p\"]\n" + key + " = " + v + "\n"
	}
}

func xrdLine(format string) func(string) string {
	return func(v string) string { return strings.ReplaceAll(format, "%v", v) + "\n" }
}

var numericKeys = []numericKey{
	{key: "transfer.qcheck", toml: tomlIn("transfer", "qcheck"), xkey: "frm.xfr.qcheck", xrd: xrdLine("frm.xfr.qcheck %v"),
		ok: []string{"1", `"1s"`, `"5m"`, maxDurSecs},
		bad: map[string]string{"0": "must be at least 1s (is 0s)", `"0s"`: "must be at least 1s (is 0s)",
			`"500ms"`: "must be at least 1s (is 500ms)", "-5": "negative", overDurs: "out of range", `"99999999999d"`: "out of range"}},
	{key: "transfer.deny", toml: tomlIn("transfer", "deny"), xkey: "oss.xfr", xrd: xrdLine("oss.xfr deny %v"),
		ok:  []string{"0", `"3h"`, maxDurSecs},
		bad: map[string]string{"-1": "negative", overDurs: "out of range"}},
	{key: "migrate.idle_hold", toml: tomlIn("migrate", "idle_hold"), xkey: "frm.xfr.migr.idlehold", xrd: xrdLine("frm.xfr.migr.idlehold %v"),
		ok:  []string{"0", `"10m"`, maxDurSecs},
		bad: map[string]string{"-1": "negative", overDurs: "out of range"}},
	{key: "migrate.wait_time",
		toml: func(v string) string { return "[migrate]\nidle_hold = 0\nwait_time = " + v + "\n" },
		xkey: "frm.xfr.migr.waittime", xrd: xrdLine("frm.xfr.migr.idlehold 0\nfrm.xfr.migr.waittime %v"),
		ok:  []string{"1", `"1h"`, maxDurSecs},
		bad: map[string]string{"0": "must be at least 1s (is 0s)", `"10ms"`: "must be at least 1s (is 10ms)", "-1": "negative", overDurs: "out of range"}},
	{key: "purge.dir_hold", toml: tomlIn("purge", "dir_hold"), xkey: "frm.purge.dirhold", xrd: xrdLine("frm.purge.dirhold %v"),
		ok:  []string{"1", `"40h"`, maxDurSecs},
		bad: map[string]string{"0": "must be at least 1s (is 0s)", "-1": "negative", overDurs: "out of range"}},
	{key: "purge.wait_time", toml: tomlIn("purge", "wait_time"), xkey: "frm.purge.waittime", xrd: xrdLine("frm.purge.waittime %v"),
		ok:  []string{"1", `"10m"`, maxDurSecs},
		bad: map[string]string{"0": "must be at least 1s (is 0s)", `"1ms"`: "must be at least 1s (is 1ms)", "-1": "negative", overDurs: "out of range"}},
	{key: "purge.policy[0].hold",
		toml: func(v string) string { return "[[purge.policy]]\nspace = \"*\"\nmin = \"5%\"\nhold = " + v + "\n" },
		xkey: "frm.purge.policy", xrd: xrdLine("frm.purge.policy * 5% 10% hold %v"),
		ok:  []string{"0", `"20h"`, maxDurSecs},
		bad: map[string]string{"-1": "negative", overDurs: "out of range"}},
	{key: "mss.copy_timeout", toml: tomlIn("mss", "copy_timeout"), xkey: "frm.xfr.copycmd", xrd: xrdLine("frm.xfr.copycmd timeout %v /bin/cp $SRC $DST"),
		ok:  []string{"0", `"2h"`, maxDurSecs},
		bad: map[string]string{"-1": "negative", overDurs: "out of range"}},
	{key: "mss.s3.part_size",
		toml: func(v string) string {
			return "[mss]\nbackend = \"s3\"\n[mss.s3]\nbucket = \"b\"\npart_size = " + v + "\n"
		},
		ok: []string{"0", `"5m"`, `"64m"`, `"5g"`},
		bad: map[string]string{`"1m"`: "must be 0 (the default, 64m) or from 5m to 5g (is 1m)", `"6g"`: "must be 0 (the default, 64m) or from 5m to 5g (is 6g)",
			"-1": "negative", maxInt64: "must be 0 (the default, 64m) or from 5m to 5g"}},
	{key: "space[0].partitions[0].cap",
		toml: func(v string) string {
			return "[[space]]\nname = \"a\"\n[[space.partitions]]\npath = \"/a\"\ncap = " + v + "\n"
		},
		ok:  []string{"0", `"1t"`, maxInt64},
		bad: map[string]string{"-1": "negative", `"99999999t"`: "out of range"}},
	// Slots are goroutines for running transfers, nothing allocated ahead:
	// no upper bound.
	{key: "transfer.copy_max", toml: tomlIn("transfer", "copy_max"), xkey: "frm.xfr.copymax", xrd: xrdLine("frm.xfr.copymax %v"),
		ok:  []string{"1", "10000", maxInt64},
		bad: map[string]string{"0": "must be at least 1 (is 0)", "-1": "must be at least 1 (is -1)", "99999999999999999999": "out of range"}},
	{key: "transfer.copy_max_in",
		toml: func(v string) string { return "[transfer]\ncopy_max = 2\ncopy_max_in = " + v + "\ncopy_max_out = 1\n" },
		xkey: "frm.xfr.copymax", xrd: xrdLine("frm.xfr.copymax split %v 1"),
		ok:  []string{"0", "1", maxInt64},
		bad: map[string]string{"-1": "must not be negative (is -1)"}},
	{key: "transfer.copy_max_out",
		toml: func(v string) string { return "[transfer]\ncopy_max = 2\ncopy_max_in = 1\ncopy_max_out = " + v + "\n" },
		xkey: "frm.xfr.copymax", xrd: xrdLine("frm.xfr.copymax split 1 %v"),
		ok:  []string{"0", "1", maxInt64},
		bad: map[string]string{"-1": "must not be negative (is -1)"}},
	{key: "transfer.retries", toml: tomlIn("transfer", "retries"),
		ok:  []string{"0", "3", "20"},
		bad: map[string]string{"-1": "must not be negative (is -1)", "21": "must be at most 20 (is 21)", maxInt64: "must be at most 20"}},
	{key: "catalog.max_conns", toml: tomlIn("catalog", "max_conns"),
		ok: []string{"0", "4", "262143"},
		bad: map[string]string{"-1": "must not be negative (is -1)", "262144": "must be at most 262143, PostgreSQL's limit (is 262144)",
			"4294967297": "must be at most 262143"}},
	{key: "catalog.statement_timeout", toml: tomlIn("catalog", "statement_timeout"),
		ok: []string{"0", `"1ms"`, `"30s"`, `"596h"`},
		bad: map[string]string{`"500us"`: "must be 0 (none) or at least 1ms (is 500µs)", `"25d"`: "must be at most 596h31m23.647s, PostgreSQL's limit (is 25d)",
			"-1": "negative", overDurs: "out of range"}},
	{key: "mss.permanent_status", toml: func(v string) string { return "[mss]\npermanent_status = [" + v + "]\n" },
		ok: []string{"1", "14", "255"},
		bad: map[string]string{"0": "but 2, which already means \"file not found\" (has 0)", "256": "(has 256)", "-1": "(has -1)",
			"2": "(has 2)", "2, 300": "(has 2, 300)"}},
	{key: "scrub.interval", toml: tomlIn("scrub", "interval"),
		ok:  []string{"0", `"24h"`, maxDurSecs},
		bad: map[string]string{"-1": "negative", overDurs: "out of range"}},
	{key: "scrub.readers", toml: tomlIn("scrub", "readers"),
		ok:  []string{"0", "1", "64"},
		bad: map[string]string{"-1": "must be 1 to 64 (is -1)", "65": "must be 1 to 64 (is 65)"}},
	{key: "catalog.scan_interval", toml: tomlIn("catalog", "scan_interval"),
		ok:  []string{"0", `"1s"`, `"1m"`, maxDurSecs},
		bad: map[string]string{`"500ms"`: "must be at least 1s (is 500ms)", "-1": "negative", overDurs: "out of range"}},
	{key: "queue.class[0].slots", toml: func(v string) string { return "[[queue.class]]\nname = \"short\"\nslots = " + v + "\n" },
		ok:  []string{"1", "64", maxInt64},
		bad: map[string]string{"0": "must be at least 1 (is 0)", "-1": "must be at least 1 (is -1)", "99999999999999999999": "out of range"}},
	{key: "queue.class[0].timeout", toml: func(v string) string { return "[[queue.class]]\nname = \"short\"\nslots = 1\ntimeout = " + v + "\n" },
		ok:  []string{"0", `"10m"`, maxDurSecs},
		bad: map[string]string{"-1": "negative", overDurs: "out of range"}},
	{key: "queue.class[0].max_size", toml: func(v string) string { return "[[queue.class]]\nname = \"short\"\nslots = 1\nmax_size = " + v + "\n" },
		ok:  []string{"0", `"1g"`, maxInt64},
		bad: map[string]string{"-1": "negative", `"99999999t"`: "out of range"}},
	{key: "mirror[0].transfers", toml: mirrorTOML("transfers"),
		ok:  []string{"0", "4", "256"},
		bad: map[string]string{"-1": "must not be negative (is -1)", "257": "must be at most 256 (is 257)"}},
	{key: "mirror[0].max_delete", toml: mirrorTOML("max_delete"),
		ok:  []string{"0", "25", `"25"`, `"10%"`, `"0.5%"`, `"100%"`},
		bad: map[string]string{"-1": "must not be negative", `"101%"`: "want a count or a percentage", `"x"`: "want a count or a percentage"}},
	{key: "fetch.max_downloads", toml: tomlIn("fetch", "max_downloads"),
		ok:  []string{"0", "1", "1000"},
		bad: map[string]string{"-1": "must not be negative (is -1)"}},
	{key: "fetch.retries", toml: tomlIn("fetch", "retries"),
		ok:  []string{"0", "3", "20"},
		bad: map[string]string{"-1": "must not be negative (is -1)", "21": "must be at most 20 (is 21)"}},
	{key: "fetch.request_timeout", toml: tomlIn("fetch", "request_timeout"),
		ok:  []string{"0", `"1h"`, maxDurSecs},
		bad: map[string]string{"-1": "negative", overDurs: "out of range"}},
	{key: "fetch.download_timeout", toml: tomlIn("fetch", "download_timeout"),
		ok:  []string{"0", `"6h"`, maxDurSecs},
		bad: map[string]string{"-1": "negative", overDurs: "out of range"}},
	{key: "catalog.lease", toml: tomlIn("catalog", "lease"),
		ok:  []string{"0", `"3s"`, `"60s"`, maxDurSecs},
		bad: map[string]string{`"1s"`: "must be at least 3s", "-1": "negative", overDurs: "out of range"}},
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// TestNumericKeyRanges: every duration, count and size key with 0,
// negative, small and huge values, in TOML and in xrootd files: a value
// out of range is one clear error naming the key as the file spells it
// (TOML: the key; xrootd: file:line and the directive), never a
// configuration that loads and then fails in the daemon.
func TestNumericKeyRanges(t *testing.T) {
	for _, k := range numericKeys {
		for _, v := range k.ok {
			for _, f := range k.files(v) {
				c, err := Parse([]byte(f.data), f.name, "", nil)
				if err != nil {
					t.Errorf("%s = %s (%s): %v", k.key, v, f.name, err)
					continue
				}
				checkIntervals(t, c)
			}
		}
		for v, msg := range k.bad {
			for _, f := range k.files(v) {
				_, err := Parse([]byte(f.data), f.name, "", nil)
				if err == nil {
					t.Errorf("%s = %s (%s) accepted; want %q", k.key, v, f.name, msg)
					continue
				}
				e := err.Error()
				var named bool
				if f.name == "frm.toml" {
					// Decode errors name the key without indexes.
					named = strings.HasPrefix(e, "frm.toml") && (strings.Contains(e, k.key+": ") || strings.Contains(indexRE.ReplaceAllString(e, ""), indexRE.ReplaceAllString(k.key, "")+": "))
				} else {
					named = regexp.MustCompile(`^site\.cf:\d+: ` + regexp.QuoteMeta(k.xkey) + `: `).MatchString(e)
				}
				if !named || !strings.Contains(e, msg) || strings.Count(e, "\n") > 0 {
					t.Errorf("%s = %s (%s): error %q; want one naming the key with %q", k.key, v, f.name, e, msg)
				}
			}
		}
	}
}

type cfgFile struct{ name, data string }

func (k numericKey) files(v string) []cfgFile {
	fs := []cfgFile{{"frm.toml", k.toml(v)}}
	if k.xrd != nil {
		fs = append(fs, cfgFile{"site.cf", k.xrd(strings.Trim(v, `"`))})
	}
	return fs
}

// TestNumericKeysAllCovered: every int, Duration and Size field of Config
// has its row in numericKeys, so a new one cannot skip validation.
func TestNumericKeysAllCovered(t *testing.T) {
	have := map[string]bool{}
	for _, k := range numericKeys {
		have[indexRE.ReplaceAllString(k.key, "")] = true
	}
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			key := prefix + name
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			switch {
			case ft == reflect.TypeFor[Duration](), ft == reflect.TypeFor[Size](),
				ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Uint64, ft.Kind() == reflect.Float32, ft.Kind() == reflect.Float64:
				if !have[key] {
					t.Errorf("%s (%s) has no row in numericKeys", key, ft)
				}
			case ft.Kind() == reflect.Struct:
				walk(ft, key+".")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
}

// checkIntervals asserts what the daemons rely on from a validated
// configuration: every duration they use as a ticker or timer period is
// positive (time.NewTicker panics otherwise), the retry backoff does not
// overflow, and counts fit where they go.
func checkIntervals(t *testing.T, c *Config) {
	t.Helper()
	for name, d := range map[string]time.Duration{
		"transfer.qcheck":   c.Transfer.QCheck.Std(),
		"migrate.wait_time": c.Migrate.WaitTime.Std(),
		"purge.wait_time":   c.Purge.WaitTime.Std(),
		"purge.dir_hold":    c.Purge.DirHold.Std(),
		"lease/3 (renewal)": c.Catalog.LeaseOrDefault() / 3,
	} {
		if d <= 0 {
			t.Fatalf("validated %s is %v, not a usable interval", name, d)
		}
	}
	for name, d := range map[string]Duration{
		"transfer.deny": c.Transfer.Deny, "migrate.idle_hold": c.Migrate.IdleHold, "mss.copy_timeout": c.MSS.CopyTimeout,
		"catalog.statement_timeout": c.Catalog.StatementTimeout,
	} {
		if d < 0 {
			t.Fatalf("validated %s is negative: %v", name, d)
		}
	}
	for i, p := range c.Purge.Policies {
		if p.Hold < 0 {
			t.Fatalf("validated purge.policy[%d].hold is negative: %v", i, p.Hold)
		}
	}
	// core/xfer waits Backoff<<try (2s) before retry try+1.
	if b := 2 * time.Second << c.Transfer.Retries; c.Transfer.Retries < 0 || b <= 0 || b>>c.Transfer.Retries != 2*time.Second {
		t.Fatalf("validated transfer.retries %d overflows the backoff", c.Transfer.Retries)
	}
	if tr := c.Transfer; tr.CopyMax < 1 || tr.CopyMaxIn < 0 || tr.CopyMaxOut < 0 {
		t.Fatalf("validated transfer slots %d %d %d", tr.CopyMax, tr.CopyMaxIn, tr.CopyMaxOut)
	}
	if m := c.Catalog.MaxConns; m < 0 || int64(int32(m)) != int64(m) {
		t.Fatalf("validated catalog.max_conns %d does not fit the pool's int32", m)
	}
	if st := c.Catalog.StatementTimeout.Std(); st > 0 && (st < time.Millisecond || st.Milliseconds() > 1<<31-1) {
		t.Fatalf("validated catalog.statement_timeout %v is not a PostgreSQL statement_timeout", st)
	}
}
