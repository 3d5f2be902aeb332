package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Formats of a configuration file.
const (
	FormatTOML   = "toml"
	FormatXrootd = "xrootd"
)

// EnvConfig names the environment variable holding the config file path.
const EnvConfig = "FRM_CONFIG"

// defaultConfigPath is DefaultConfigPath; a variable so tests can move it.
var defaultConfigPath = DefaultConfigPath

// Find returns the configuration file to use: flagPath when non-empty,
// else $FRM_CONFIG when set, else /etc/frm/frm.toml. The chosen file must
// exist; the error names every place that was tried.
func Find(flagPath string) (string, error) {
	var tried []string
	check := func(p, how string) (string, bool, error) {
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				tried = append(tried, fmt.Sprintf("%s (%s)", p, how))
				return "", false, nil
			}
			return "", false, fmt.Errorf("config file %s (%s): %w", p, how, err)
		}
		if st.IsDir() {
			return "", false, fmt.Errorf("config file %s (%s) is a directory", p, how)
		}
		return p, true, nil
	}
	var (
		p   string
		ok  bool
		err error
	)
	switch {
	case flagPath != "":
		p, ok, err = check(flagPath, "-c")
	case os.Getenv(EnvConfig) != "":
		p, ok, err = check(os.Getenv(EnvConfig), "$"+EnvConfig)
	default:
		p, ok, err = check(defaultConfigPath, "default")
	}
	if err != nil || ok {
		return p, err
	}
	return "", fmt.Errorf("no configuration file found; tried %s", strings.Join(tried, ", "))
}

// Load reads the configuration file at path, detecting its format (TOML or
// xrootd) by content, and returns the validated effective Config for the
// given instance (see Parse).
func Load(path string, instance string) (*Config, error) {
	return LoadDebug(path, instance, nil)
}

// LoadDebug is Load with a debug callback (see Parse).
func LoadDebug(path string, instance string, debug func(msg string)) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path, instance, debug)
}

// ConvertXrootd reads path as an xrootd configuration file, whatever its
// name (frm config convert prints WriteTOML of the result). It refuses
// content that is TOML, and content none of whose lines is an xrootd
// directive (a hosts file, say), rather than convert it to the defaults.
func ConvertXrootd(path, instance string) (*Config, error) {
	return ConvertXrootdDebug(path, instance, nil)
}

// ConvertXrootdDebug is ConvertXrootd with a debug callback (see Parse).
func ConvertXrootdDebug(path, instance string, debug func(msg string)) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	switch contentFormat(data) {
	case FormatTOML:
		return nil, fmt.Errorf("%s is a TOML file, not an xrootd configuration ('frm config show -c %s' prints it)", path, path)
	case "":
		if hasContent(data) {
			return nil, fmt.Errorf("%s is not an xrootd configuration: no line is a directive (word.word ...) or if, set, continue", path)
		}
	}
	return parseAs(FormatXrootd, data, path, instance, debug, true)
}

// maxConfigSize bounds a configuration file (and every file it includes).
const maxConfigSize = 16 << 20

func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("config: %s is not a regular file", path)
	}
	if st.Size() > maxConfigSize {
		return nil, fmt.Errorf("config: %s is too large (%d bytes)", path, st.Size())
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	return buf.Bytes(), nil
}

// Parse parses configuration content; name (normally the file path) is
// used in messages, for relative includes and as a format hint. The format
// is detected by content (DetectFormat). instance is the -n name ("",
// "anon" and "default" mean none): for xrootd content it selects the
// if/else/fi branches, for TOML a non-empty instance overrides the file's
// instance key. debug, when not nil, receives one line for every xrootd
// directive (or option) that frm ignores. The result has its defaults
// applied and is validated.
func Parse(data []byte, name string, instance string, debug func(msg string)) (*Config, error) {
	return parseAs(DetectFormat(data, name), data, name, instance, debug, true)
}

func parseAs(format string, data []byte, name, instance string, debug func(string), allowFS bool) (*Config, error) {
	if debug == nil {
		debug = func(string) {}
	}
	if !hasContent(data) {
		return nil, emptyError(format, name)
	}
	instance = NormalizeInstance(instance)
	var (
		c     *Config
		where map[string]string // xrootd: the directive that set a key
		err   error
	)
	if format == FormatXrootd {
		c, where, err = parseXrootd(data, name, instance, debug, allowFS)
	} else {
		c, err = parseTOML(data, name, instance)
	}
	if err != nil {
		return nil, err
	}
	c.Source, c.Format = name, format
	if err := c.validateAt(where); err != nil {
		return nil, err
	}
	return c, nil
}

// DetectFormat tells whether content is an xrootd configuration
// ("xrootd") or TOML ("toml") from its first meaningful lines: TOML has
// "key = value" and "[table]" lines, xrootd has "word.word ..." directives
// and if/else/fi/set/continue. When the content does not tell (e.g. only
// comments), the file name decides: .cf, .cfg and .conf mean xrootd.
func DetectFormat(data []byte, name string) string {
	if f := contentFormat(data); f != "" {
		return f
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".cf", ".cfg", ".conf":
		return FormatXrootd
	}
	return FormatTOML
}

// contentFormat is the format the first 50 meaningful lines of data tell
// ("" when none does).
func contentFormat(data []byte) string {
	seen := 0
	for _, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}
		if seen++; seen > 50 {
			break
		}
		if f := lineFormat(t); f != "" {
			return f
		}
	}
	return ""
}

// hasContent reports whether data has a line that is neither blank nor
// a comment.
func hasContent(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		if t := strings.TrimSpace(line); t != "" && t[0] != '#' {
			return true
		}
	}
	return false
}

// emptyError refuses a configuration that sets nothing (an empty file, or
// only comments): frm would run on defaults that manage nothing, and the
// daemon would fail later for want of an MSS. It names what is missing.
func emptyError(format, name string) error {
	if format == FormatXrootd {
		return fmt.Errorf("%s: empty configuration: no all.export or oss.space directives (what frm manages), no oss.remoteroot or frm.xfr.copycmd (the MSS)", name)
	}
	return fmt.Errorf("%s: empty configuration: no [[export]] or [[space]] tables (what frm manages), no [mss] or remote_root (the MSS); see examples/frm.toml", name)
}

// lineFormat classifies one trimmed, non-comment line ("" = undecided).
func lineFormat(t string) string {
	if t[0] == '[' {
		return FormatTOML
	}
	if eq := strings.IndexByte(t, '='); eq > 0 && tomlKey(strings.TrimSpace(t[:eq])) {
		if tomlValueStart(strings.TrimSpace(t[eq+1:])) {
			return FormatTOML
		}
	}
	word := t
	if i := strings.IndexAny(t, " \t"); i >= 0 {
		word = t[:i]
	}
	switch word {
	case "if", "else", "fi", "set", "setenv", "continue":
		return FormatXrootd
	}
	if xrdDirectiveWord(word) {
		return FormatXrootd
	}
	return ""
}

// tomlKey reports whether k looks like a (possibly dotted or quoted) TOML key.
func tomlKey(k string) bool {
	if k == "" {
		return false
	}
	for _, part := range strings.Split(k, ".") {
		part = strings.TrimSpace(part)
		if len(part) >= 2 && (part[0] == '"' || part[0] == '\'') && part[len(part)-1] == part[0] {
			continue
		}
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			b := part[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
				return false
			}
		}
	}
	return true
}

// tomlValueStart reports whether v starts like a TOML value.
func tomlValueStart(v string) bool {
	if v == "" {
		return false
	}
	switch v[0] {
	case '"', '\'', '[', '{', '+', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	word := v
	if i := strings.IndexAny(v, " \t#,]}"); i >= 0 {
		word = v[:i]
	}
	switch word {
	case "true", "false", "inf", "nan":
		return true
	}
	return false
}

// xrdDirectiveWord reports whether w looks like "prefix.name[.name...]",
// the prefix starting with a letter (an address such as 127.0.0.1, the
// first word of /etc/hosts, is no directive).
func xrdDirectiveWord(w string) bool {
	parts := strings.Split(w, ".")
	if len(parts) < 2 {
		return false
	}
	if c := w[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			b := p[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_') {
				return false
			}
		}
	}
	return true
}
