package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// hostname returns the local host name; a variable so tests can fix it.
var hostname = os.Hostname

// frmPrograms are the program names "if exec" matches: frm plays the role
// of every xrootd FRM tool at once.
var frmPrograms = []string{"frm", "frm_admin", "frm_xfrd", "frm_purged", "frm_xfragent"}

// maxIncludeDepth bounds nested "continue" directives.
const maxIncludeDepth = 8

// maxVarLen bounds the value of a "set" variable (self-referencing
// definitions would otherwise double it each time).
const maxVarLen = 64 << 10

// Export option categories (bits of xOpts.set).
const (
	optMig uint = 1 << iota
	optStage
	optPurge
	optCheck
	optRO
	optMMap
	optMLock
	optMKeep
	optXattrs
)

type exportOpt struct {
	bit uint
	on  bool
}

// exportOptions are the all.export / oss.path / oss.defaults options frm
// uses; "on" is the value of the corresponding Export field.
var exportOptions = map[string]exportOpt{
	"mig": {optMig, true}, "migratable": {optMig, true},
	"nomig": {optMig, false}, "notmigratable": {optMig, false},
	"stage": {optStage, true}, "stage+": {optStage, true}, "nostage": {optStage, false},
	"purge": {optPurge, true}, "nopurge": {optPurge, false},
	"nocheck": {optCheck, true}, "check": {optCheck, false},
	"r/o": {optRO, true}, "readonly": {optRO, true}, "notwritable": {optRO, true}, "forcero": {optRO, true},
	"r/w": {optRO, false}, "writable": {optRO, false},
	"mmap": {optMMap, true}, "nommap": {optMMap, false},
	"mlock": {optMLock, true}, "nomlock": {optMLock, false},
	"mkeep": {optMKeep, true}, "nomkeep": {optMKeep, false},
	"noxattrs": {optXattrs, true}, "xattrs": {optXattrs, false},
}

// ignoredExportOptions are valid xrootd path options without meaning to frm.
var ignoredExportOptions = map[string]bool{
	"compchk": true, "rcreate": true, "norcreate": true, "dread": true, "nodread": true,
	"inplace": true, "outplace": true, "mwfiles": true, "cache": true, "nocache": true,
	"local": true, "global": true, "globalro": true, "lock": true, "nolock": true,
	"ssdec": true, "nossdec": true, "notstageable": true, "stageable": true,
}

// xOpts is a set of export options plus which of them were given.
type xOpts struct {
	val Export
	set uint
}

func (o *xOpts) apply(opt exportOpt) {
	o.set |= opt.bit
	switch opt.bit {
	case optMig:
		o.val.Mig = opt.on
	case optStage:
		o.val.Stage = opt.on
	case optPurge:
		o.val.Purge = opt.on
	case optCheck:
		o.val.NoCheck = opt.on
	case optRO:
		o.val.ReadOnly = opt.on
	case optMMap:
		o.val.MMap = opt.on
	case optMLock:
		o.val.MLock = opt.on
	case optMKeep:
		o.val.MKeep = opt.on
	case optXattrs:
		o.val.NoXattrs = opt.on
	}
}

// resolve returns o's options with every category o does not set taken
// from the defaults d.
func (o xOpts) resolve(d xOpts) Export {
	e := d.val
	e.Path = o.val.Path
	pick := func(bit uint, dst *bool, src bool) {
		if o.set&bit != 0 {
			*dst = src
		}
	}
	pick(optMig, &e.Mig, o.val.Mig)
	pick(optStage, &e.Stage, o.val.Stage)
	pick(optPurge, &e.Purge, o.val.Purge)
	pick(optCheck, &e.NoCheck, o.val.NoCheck)
	pick(optRO, &e.ReadOnly, o.val.ReadOnly)
	pick(optMMap, &e.MMap, o.val.MMap)
	pick(optMLock, &e.MLock, o.val.MLock)
	pick(optMKeep, &e.MKeep, o.val.MKeep)
	pick(optXattrs, &e.NoXattrs, o.val.NoXattrs)
	return e
}

// xrdParser turns xrootd configuration directives into a Config.
type xrdParser struct {
	cfg      *Config
	instance string
	debug    func(string)
	allowFS  bool // may read the filesystem (continue, wildcard spaces)
	vars     map[string]string
	depth    int
	hosts    []string
	hostsOK  bool

	exports  []xOpts
	expIdx   map[string]int
	defaults xOpts
	used     int // directives read that set something (not set, continue)

	// where maps the TOML keys set by a directive to "file:line:
	// directive", so that validation names the key as the user wrote it.
	where map[string]string
}

// setBy records that d set the given TOML keys.
func (p *xrdParser) setBy(d *directive, keys ...string) {
	for _, k := range keys {
		p.where[k] = fmt.Sprintf("%s:%d: %s", d.file, d.line, d.name)
	}
}

// parseXrootd returns the configuration and where each key was set (see
// xrdParser.where).
func parseXrootd(data []byte, name, instance string, debug func(string), allowFS bool) (*Config, map[string]string, error) {
	p := &xrdParser{
		cfg:      Default(),
		instance: instance,
		debug:    debug,
		allowFS:  allowFS,
		vars:     map[string]string{},
		expIdx:   map[string]int{},
		where:    map[string]string{},
	}
	if err := p.parseFile(data, name); err != nil {
		return nil, nil, err
	}
	if p.used == 0 {
		p.warn(fmt.Sprintf("%s: no directive frm reads (all.export, oss.space, oss.localroot, frm.xfr.copycmd, ...): everything is a default", name))
	}
	for _, e := range p.exports {
		p.cfg.Exports = append(p.cfg.Exports, e.resolve(p.defaults))
	}
	p.cfg.Instance = instance
	p.cfg.finalize(nil)
	return p.cfg, p.where, nil
}

// directive is one logical configuration line.
type directive struct {
	p    *xrdParser
	file string
	line int
	name string
	args []string // raw words after the name (no substitution yet)
	pos  int
}

func (d *directive) errf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s: %s", d.file, d.line, d.name, fmt.Sprintf(format, args...))
}

// warnf records a warning about d in the configuration's Warnings, which
// every command that loads the file shows.
func (d *directive) warnf(format string, args ...any) {
	d.p.warn(fmt.Sprintf("%s:%d: %s: %s", d.file, d.line, d.name, fmt.Sprintf(format, args...)))
}

func (p *xrdParser) warn(msg string) { p.cfg.Warnings = append(p.cfg.Warnings, msg) }

// infof tells the debug callback (frm admin -d) what frm ignores in d
// that is valid xrootd: not a mistake, so no warning.
func (d *directive) infof(format string, args ...any) {
	d.p.debug(fmt.Sprintf("%s:%d: %s: %s", d.file, d.line, d.name, fmt.Sprintf(format, args...)))
}

// next returns the next word with variables substituted.
func (d *directive) next() (string, bool) {
	if d.pos >= len(d.args) {
		return "", false
	}
	d.pos++
	return d.p.subst(d.args[d.pos-1]), true
}

// rest returns the remaining words as written (no substitution: copy and
// policy program arguments keep their $variables).
func (d *directive) rest() []string {
	r := d.args[d.pos:]
	d.pos = len(d.args)
	if len(r) == 0 {
		return nil
	}
	return append([]string(nil), r...)
}

// logicalLines splits content into directives: '#' comments, blank lines,
// and backslash continuation.
func logicalLines(data []byte) (lines [][]string, nums []int) {
	raw := strings.Split(string(data), "\n")
	for i := 0; i < len(raw); i++ {
		start := i + 1
		text := strings.TrimRight(raw[i], " \t\r")
		for strings.HasSuffix(text, "\\") && i+1 < len(raw) {
			i++
			text = text[:len(text)-1] + " " + strings.TrimRight(raw[i], " \t\r")
		}
		text = strings.TrimSuffix(text, "\\")
		words := strings.Fields(text)
		for j, w := range words {
			if strings.HasPrefix(w, "#") {
				words = words[:j]
				break
			}
		}
		if len(words) == 0 {
			continue
		}
		lines = append(lines, words)
		nums = append(nums, start)
	}
	return lines, nums
}

type ifFrame struct {
	line         int
	parentActive bool
	active       bool // the current branch is being used
	taken        bool // some branch has been taken
	sawElse      bool
}

func (p *xrdParser) parseFile(data []byte, file string) error {
	var stack []ifFrame
	active := func() bool { return len(stack) == 0 || stack[len(stack)-1].active }
	if !utf8.Valid(data) {
		for n, line := range strings.Split(string(data), "\n") {
			if !utf8.ValidString(line) {
				return fmt.Errorf("%s:%d: invalid UTF-8", file, n+1)
			}
		}
	}
	lines, nums := logicalLines(data)
	for k, words := range lines {
		d := &directive{p: p, file: file, line: nums[k], name: words[0], args: words[1:]}
		switch d.name {
		case "if":
			fr := ifFrame{line: d.line, parentActive: active()}
			if fr.parentActive {
				ok, err := p.evalIf(d)
				if err != nil {
					return err
				}
				fr.active, fr.taken = ok, ok
			}
			stack = append(stack, fr)
		case "else":
			if len(stack) == 0 {
				return d.errf("no matching if")
			}
			top := &stack[len(stack)-1]
			if top.sawElse {
				return d.errf("else after else (the if is at line %d)", top.line)
			}
			if len(d.args) > 0 && d.args[0] == "if" {
				d.name, d.args = "else if", d.args[1:]
				top.active = false
				if top.parentActive && !top.taken {
					ok, err := p.evalIf(d)
					if err != nil {
						return err
					}
					top.active, top.taken = ok, ok
				}
				continue
			}
			if len(d.args) > 0 {
				return d.errf("unexpected %q after else", d.args[0])
			}
			top.active = top.parentActive && !top.taken
			top.taken, top.sawElse = true, true
		case "fi":
			if len(stack) == 0 {
				return d.errf("no matching if")
			}
			stack = stack[:len(stack)-1]
		default:
			if !active() {
				p.unknownFrm(d)
				continue
			}
			if err := p.directive(d); err != nil {
				return err
			}
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("%s:%d: if: missing fi", file, stack[len(stack)-1].line)
	}
	return nil
}

// evalIf evaluates "if [hosts] [defined ?var...] [exec progs] [&&] [named names]".
// Every condition given must hold.
func (p *xrdParser) evalIf(d *directive) (bool, error) {
	var words []string
	for {
		w, ok := d.next()
		if !ok {
			break
		}
		words = append(words, w)
	}
	if len(words) == 0 {
		return false, d.errf("host name missing after 'if'")
	}
	isKey := func(w string) bool { return w == "defined" || w == "exec" || w == "named" || w == "&&" }
	i := 0
	result := true
	if !isKey(words[0]) {
		match := false
		for ; i < len(words) && !isKey(words[i]); i++ {
			if p.hostMatch(words[i]) {
				match = true
			}
		}
		result = match
	}
	for i < len(words) {
		kw := words[i]
		i++
		var list []string
		for ; i < len(words) && !isKey(words[i]); i++ {
			list = append(list, words[i])
		}
		switch kw {
		case "&&":
			if len(list) > 0 {
				return false, d.errf("%q is invalid after '&&'", list[0])
			}
		case "defined":
			if len(list) == 0 {
				return false, d.errf("'?var' missing after 'defined'")
			}
			def := false
			for _, v := range list {
				switch {
				case strings.HasPrefix(v, "?~"):
					if _, ok := os.LookupEnv(v[2:]); ok {
						def = true
					}
				case strings.HasPrefix(v, "?"):
					if _, ok := p.vars[v[1:]]; ok {
						def = true
					}
				default:
					return false, d.errf("%q is invalid for defined test", v)
				}
			}
			result = result && def
		case "exec":
			if len(list) == 0 {
				return false, d.errf("program name missing after 'if exec'")
			}
			match := false
			for _, prog := range list {
				if oneOf(prog, frmPrograms) {
					match = true
				}
			}
			result = result && match
		case "named":
			if len(list) == 0 {
				return false, d.errf("instance name missing after 'if named'")
			}
			match := false
			for _, n := range list {
				if p.instance != "" && n == p.instance {
					match = true
				}
			}
			result = result && match
		}
	}
	return result, nil
}

// hostMatch matches a host pattern ('*' wildcards, case-insensitive; a
// trailing '+', which asks xrootd for DNS aliases, is dropped) against the
// full and the short local host name.
func (p *xrdParser) hostMatch(pat string) bool {
	if !p.hostsOK {
		p.hostsOK = true
		if h, err := hostname(); err == nil && h != "" {
			p.hosts = append(p.hosts, strings.ToLower(h))
			if i := strings.IndexByte(h, '.'); i > 0 {
				p.hosts = append(p.hosts, strings.ToLower(h[:i]))
			}
		}
	}
	pat = strings.ToLower(strings.TrimSuffix(pat, "+"))
	for _, h := range p.hosts {
		if globMatch(pat, h) {
			return true
		}
	}
	return false
}

// globMatch matches s against pat where '*' matches any run of characters.
func globMatch(pat, s string) bool {
	parts := strings.Split(pat, "*")
	if len(parts) == 1 {
		return pat == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// subst replaces $name and $(name) by the values of variables defined
// with "set"; anything else (e.g. $SRC in a copy command) is left alone.
func (p *xrdParser) subst(s string) string {
	if len(p.vars) == 0 || !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' && i+1 < len(s) && s[i+1] == '$' {
			b.WriteString(`\$`)
			i += 2
			continue
		}
		if c == '$' && i+1 < len(s) {
			if s[i+1] == '(' {
				if j := strings.IndexByte(s[i+2:], ')'); j >= 0 {
					if v, ok := p.vars[s[i+2:i+2+j]]; ok {
						b.WriteString(v)
						i += 3 + j
						continue
					}
				}
			} else {
				j := i + 1
				for j < len(s) && varChar(s[j]) {
					j++
				}
				if v, ok := p.vars[s[i+1:j]]; ok && j > i+1 {
					b.WriteString(v)
					i = j
					continue
				}
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func varChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_'
}

func (p *xrdParser) directive(d *directive) error {
	handled, err := p.dispatch(d)
	if handled {
		if d.name != "set" && d.name != "setenv" && d.name != "continue" {
			p.used++
		}
		return err
	}
	if p.unknownFrm(d) {
		return nil
	}
	p.debug(fmt.Sprintf("%s:%d: ignoring directive %s", d.file, d.line, d.name))
	return nil
}

// dispatch runs the directives frm reads; handled is false for the others.
func (p *xrdParser) dispatch(d *directive) (handled bool, err error) {
	switch d.name {
	case "set", "setenv":
		return true, p.xset(d)
	case "continue":
		return true, p.xcontinue(d)
	case "all.adminpath":
		return true, p.xadminpath(d)
	case "all.sitename":
		return true, p.xsitename(d)
	case "all.pidpath":
		v, ok := d.next()
		if !ok {
			return true, d.errf("pidpath not specified")
		}
		p.cfg.PidPath = v
		return true, nil
	case "all.export", "oss.path":
		return true, p.xexport(d)
	case "oss.defaults":
		return true, p.xdefaults(d)
	case "oss.localroot", "oss.remoteroot":
		return true, p.xroot(d)
	case "oss.space":
		return true, p.xspace(d)
	case "oss.cache":
		return true, p.xcache(d)
	case "oss.usage":
		return true, p.xusage(d)
	case "oss.xfr":
		return true, p.xxfr(d)
	case "xrootd.chksum":
		return true, p.xchksum(d)
	case "frm.xfr.copycmd":
		return true, p.xcopycmd(d)
	case "frm.xfr.copymax":
		return true, p.xcopymax(d)
	case "frm.xfr.qcheck":
		return true, p.xqcheck(d)
	case "frm.xfr.migr.idlehold":
		return true, p.xtime(d, "idle time", &p.cfg.Migrate.IdleHold, "migrate.idle_hold")
	case "frm.xfr.migr.waittime":
		return true, p.xtime(d, "migr wait", &p.cfg.Migrate.WaitTime, "migrate.wait_time")
	case "frm.purge.policy":
		return true, p.xpolicy(d)
	case "frm.purge.polprog":
		return true, p.xpolprog(d)
	case "frm.purge.dirhold":
		return true, p.xtime(d, "dirpolicy hold time", &p.cfg.Purge.DirHold, "purge.dir_hold")
	case "frm.purge.waittime":
		return true, p.xtime(d, "purge wait", &p.cfg.Purge.WaitTime, "purge.wait_time")
	}
	return false, nil
}

// frmDirectives are the frm.* directives of xrootd 5.5.3: those frm reads
// (above) and those it accepts and ignores (frm.all.cnsd, frm.all.monitor).
var frmDirectives = []string{
	"frm.xfr.copycmd", "frm.xfr.copymax", "frm.xfr.qcheck", "frm.xfr.migr.idlehold", "frm.xfr.migr.waittime",
	"frm.purge.policy", "frm.purge.polprog", "frm.purge.dirhold", "frm.purge.waittime",
	"frm.all.cnsd", "frm.all.monitor",
}

// unknownFrm warns about d when it is an frm.* directive xrootd does not
// have (a misspelling such as frm.xfr.copymx would otherwise be dropped
// without a word, and the site run on a default), and reports whether it
// did. Directives in if branches that do not apply are checked too: a
// misspelling is one whatever the host.
func (p *xrdParser) unknownFrm(d *directive) bool {
	if !strings.HasPrefix(d.name, "frm.") {
		return false
	}
	best, bestDist := "", 3
	for _, k := range frmDirectives {
		if k == d.name {
			return false
		}
		if dist := editDistance(strings.ToLower(d.name), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	msg := fmt.Sprintf("%s:%d: ignoring unknown frm directive %s", d.file, d.line, d.name)
	if best != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", best)
	}
	p.warn(msg)
	return true
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// set name = value   (value: the rest of the line)
func (p *xrdParser) xset(d *directive) error {
	name, ok := d.next()
	if !ok || name == "" {
		return d.errf("variable name not specified")
	}
	for i := 0; i < len(name); i++ {
		if !varChar(name[i]) {
			return d.errf("invalid variable name %q", name)
		}
	}
	var vals []string
	for {
		w, ok := d.next()
		if !ok {
			break
		}
		vals = append(vals, w)
	}
	if len(vals) > 0 && vals[0] == "=" {
		vals = vals[1:]
	}
	if len(vals) == 0 {
		return d.errf("no value for variable %s", name)
	}
	v := strings.Join(vals, " ")
	if len(v) > maxVarLen {
		return d.errf("value of variable %s is too long (%d bytes, at most %d)", name, len(v), maxVarLen)
	}
	p.vars[name] = v
	return nil
}

// continue <file> | <dir> [<filter>...]
func (p *xrdParser) xcontinue(d *directive) error {
	target, ok := d.next()
	if !ok {
		return d.errf("path not specified")
	}
	if !p.allowFS {
		return d.errf("not allowed here")
	}
	if p.depth >= maxIncludeDepth {
		return d.errf("too many nested continue directives")
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(d.file), target)
	}
	st, err := os.Stat(target)
	if err != nil {
		return d.errf("%v", err)
	}
	files := []string{target}
	if st.IsDir() {
		filters := d.rest()
		ents, err := os.ReadDir(target)
		if err != nil {
			return d.errf("%v", err)
		}
		files = nil
		for _, e := range ents {
			n := e.Name()
			if strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") ||
				strings.HasSuffix(n, ".rpmsave") || strings.HasSuffix(n, ".rpmnew") ||
				strings.Contains(n, ".dpkg-") || !e.Type().IsRegular() {
				continue
			}
			if len(filters) > 0 {
				match := false
				for _, f := range filters {
					if m, _ := filepath.Match(f, n); m {
						match = true
					}
				}
				if !match {
					continue
				}
			}
			files = append(files, filepath.Join(target, n))
		}
	}
	for _, f := range files {
		data, err := readConfig(f)
		if err != nil {
			return d.errf("%v", err)
		}
		p.depth++
		err = p.parseFile(data, f)
		p.depth--
		if err != nil {
			return err
		}
	}
	return nil
}

// all.adminpath <path> [group]
func (p *xrdParser) xadminpath(d *directive) error {
	v, ok := d.next()
	if !ok || v == "" {
		return d.errf("adminpath not specified")
	}
	if !strings.HasPrefix(v, "/") {
		return d.errf("adminpath not absolute: %s", v)
	}
	p.cfg.AdminPath, p.cfg.AdminGroup = v, false
	p.setBy(d, "admin_path")
	if m, ok := d.next(); ok {
		if m != "group" {
			return d.errf("invalid admin path modifier %q", m)
		}
		p.cfg.AdminGroup = true
	}
	return nil
}

// all.sitename <name>   (the first one wins)
func (p *xrdParser) xsitename(d *directive) error {
	v, ok := d.next()
	if !ok {
		return d.errf("sitename value not specified")
	}
	if p.cfg.Site != "" {
		d.warnf("sitename already specified, using %q", p.cfg.Site)
		return nil
	}
	p.cfg.Site = v
	return nil
}

func (p *xrdParser) exportOpts(d *directive, o *xOpts) error {
	for {
		w, ok := d.next()
		if !ok {
			return nil
		}
		if opt, known := exportOptions[w]; known {
			o.apply(opt)
			continue
		}
		if ignoredExportOptions[w] {
			d.infof("ignoring path option %s", w)
			continue
		}
		return d.errf("invalid path option %q", w)
	}
}

// all.export <path> [options]
func (p *xrdParser) xexport(d *directive) error {
	v, ok := d.next()
	if !ok || v == "" {
		return d.errf("export path not specified")
	}
	if !strings.HasPrefix(v, "/") {
		return d.errf("export path must be absolute: %q", v)
	}
	o := xOpts{val: Export{Path: path.Clean(v)}}
	if err := p.exportOpts(d, &o); err != nil {
		return err
	}
	if i, dup := p.expIdx[o.val.Path]; dup {
		p.exports[i] = o
		return nil
	}
	p.expIdx[o.val.Path] = len(p.exports)
	p.exports = append(p.exports, o)
	return nil
}

// oss.defaults [options]
func (p *xrdParser) xdefaults(d *directive) error {
	return p.exportOpts(d, &p.defaults)
}

// oss.localroot <path> / oss.remoteroot <path|url>
func (p *xrdParser) xroot(d *directive) error {
	v, ok := d.next()
	if !ok || v == "" {
		return d.errf("no value for directive")
	}
	if d.name == "oss.localroot" {
		if !strings.HasPrefix(v, "/") {
			return d.errf("localroot must be absolute: %q", v)
		}
		p.cfg.LocalRoot = v
		p.setBy(d, "local_root")
		return nil
	}
	if !strings.HasPrefix(v, "/") && !isURL(v) {
		return d.errf("remoteroot must be an absolute path or a URL: %q", v)
	}
	p.cfg.RemoteRoot = v
	p.setBy(d, "remote_root")
	return nil
}

func (p *xrdParser) spaceName(d *directive) (string, error) {
	name, ok := d.next()
	if !ok {
		return "", d.errf("space name not specified")
	}
	if len(name) > MaxSpaceName {
		return "", d.errf("excessively long space name %q", name)
	}
	if !ValidSpaceName(name) {
		return "", d.errf("invalid space name %q", name)
	}
	return name, nil
}

// oss.space <name> <path> [chkmount <id> [nofail]]
// oss.space <name> {assign|default} ...   (ignored)
func (p *xrdParser) xspace(d *directive) error {
	name, err := p.spaceName(d)
	if err != nil {
		return err
	}
	v, ok := d.next()
	if !ok {
		return d.errf("path to space not specified")
	}
	if v == "assign" || v == "default" {
		d.infof("ignoring %s", v)
		return nil
	}
	if !strings.HasPrefix(v, "/") || len(v) < 2 {
		return d.errf("invalid space path %q", v)
	}
	for {
		w, ok := d.next()
		if !ok {
			break
		}
		switch w {
		case "chkmount":
			if _, ok := d.next(); !ok {
				return d.errf("chkmount id not specified")
			}
		case "nofail":
		default:
			return d.errf("invalid space option %q", w)
		}
	}
	return p.addSpacePath(d, name, v)
}

// oss.cache <group> <path> xa
func (p *xrdParser) xcache(d *directive) error {
	name, err := p.spaceName(d)
	if err != nil {
		return err
	}
	v, ok := d.next()
	if !ok {
		return d.errf("path to space not specified")
	}
	if !strings.HasPrefix(v, "/") || len(v) < 2 {
		return d.errf("invalid space path %q", v)
	}
	xa, ok := d.next()
	if !ok {
		return d.errf("old-style spaces using oss.cache are no longer supported (add xa or use oss.space)")
	}
	if xa != "xa" {
		return d.errf("invalid cache option %q", xa)
	}
	return p.addSpacePath(d, name, v)
}

// addSpacePath adds a partition (or, for "dir/pfx*", every sub-directory
// of dir whose name starts with pfx, sorted) to a space.
func (p *xrdParser) addSpacePath(d *directive, name, v string) error {
	var dirs []string
	if !strings.HasSuffix(v, "*") {
		dirs = []string{path.Clean(v)}
	} else {
		if !p.allowFS {
			return d.errf("wildcard space paths are not allowed here")
		}
		slash := strings.LastIndexByte(v, '/')
		parent, prefix := v[:slash+1], v[slash+1:len(v)-1]
		ents, err := os.ReadDir(parent)
		if err != nil {
			return d.errf("cannot open space directory %s: %v", parent, err)
		}
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), prefix) {
				continue
			}
			full := filepath.Join(parent, e.Name())
			if st, err := os.Stat(full); err == nil && st.IsDir() {
				dirs = append(dirs, path.Clean(full))
			}
		}
		if len(dirs) == 0 {
			d.warnf("no space directories found in %s", v)
			return nil
		}
	}
	sp, ok := p.cfg.Space(name)
	if !ok {
		p.cfg.Spaces = append(p.cfg.Spaces, Space{Name: name})
		sp = &p.cfg.Spaces[len(p.cfg.Spaces)-1]
	}
next:
	for _, dir := range dirs {
		for _, part := range sp.Partitions {
			if part.Path == dir {
				continue next
			}
		}
		sp.Partitions = append(sp.Partitions, Partition{Path: dir})
	}
	return nil
}

// oss.usage [nolog | log <dir> [sync <n>]] [noquotafile | quotafile <file>]
func (p *xrdParser) xusage(d *directive) error {
	for {
		w, ok := d.next()
		if !ok {
			return nil
		}
		switch w {
		case "nolog":
			p.cfg.Usage.LogDir = ""
		case "log":
			dir, ok := d.next()
			if !ok {
				return d.errf("usage log directory not specified")
			}
			if !strings.HasPrefix(dir, "/") {
				return d.errf("usage log directory must be absolute: %q", dir)
			}
			p.cfg.Usage.LogDir = dir
			p.setBy(d, "usage.log_dir")
		case "sync":
			n, ok := d.next()
			if !ok {
				return d.errf("usage sync value not specified")
			}
			if _, err := strconv.Atoi(n); err != nil {
				return d.errf("invalid usage sync value %q", n)
			}
		case "noquotafile":
		case "quotafile":
			if _, ok := d.next(); !ok {
				return d.errf("quotafile path not specified")
			}
		default:
			return d.errf("invalid usage option %q", w)
		}
	}
}

// oss.xfr [deny <t>] [fdir <dir>] [keep <t>] ...   (other options ignored)
func (p *xrdParser) xxfr(d *directive) error {
	for {
		w, ok := d.next()
		if !ok {
			return nil
		}
		switch w {
		case "deny", "keep":
			v, ok := d.next()
			if !ok {
				return d.errf("xfr %s value not specified", w)
			}
			t, err := ParseDuration(v)
			if err != nil {
				return d.errf("xfr %s: %v", w, err)
			}
			if w == "deny" {
				p.cfg.Transfer.Deny = Duration(t)
				p.setBy(d, "transfer.deny")
			}
		case "fdir":
			v, ok := d.next()
			if !ok {
				return d.errf("xfr fdir value not specified")
			}
			if !strings.HasPrefix(v, "/") {
				return d.errf("xfr fdir must be absolute: %q", v)
			}
			p.cfg.Transfer.FailDir = v
			p.setBy(d, "transfer.fail_dir")
		default:
			d.infof("ignoring options from %q on", w)
			return nil
		}
	}
}

// xrootd.chksum [chkcgi] [max <n>] <alg> [<path>]
func (p *xrdParser) xchksum(d *directive) error {
	var alg string
	for {
		w, ok := d.next()
		if !ok {
			break
		}
		if w == "chkcgi" {
			continue
		}
		if w == "max" {
			n, ok := d.next()
			if !ok {
				return d.errf("chksum max not specified")
			}
			if _, err := strconv.Atoi(n); err != nil {
				return d.errf("invalid chksum max value %q", n)
			}
			continue
		}
		alg = w
		break
	}
	if alg == "" || strings.HasPrefix(alg, "/") {
		return d.errf("chksum algorithm not specified")
	}
	if i := strings.IndexByte(alg, ','); i >= 0 {
		alg = alg[:i]
	}
	alg = strings.ToLower(alg)
	if !oneOf(alg, checksumAlgs) {
		return d.errf("unsupported checksum algorithm %q (frm supports %s)", alg, strings.Join(checksumAlgs, ", "))
	}
	p.cfg.Checksum.Default = alg
	return nil
}

// frm.xfr.copycmd [in] [out] [url] [noalloc] [rmerr] [stats] [timeout <t>] [xpd] <abs-prog> [args]
func (p *xrdParser) xcopycmd(d *directive) error {
	var in, out, url bool
	m := &p.cfg.MSS
	w, ok := d.next()
	for ok && !strings.HasPrefix(w, "/") {
		switch w {
		case "in":
			in = true
		case "out":
			out = true
		case "url":
			url = true
		case "noalloc":
			m.NoAlloc = true
		case "rmerr":
			m.RmErr = true
		case "stats":
			m.Stats = true
		case "xpd":
		case "timeout":
			v, ok := d.next()
			if !ok {
				return d.errf("copy command timeout not specified")
			}
			t, err := ParseDuration(v)
			if err != nil {
				return d.errf("copy command timeout: %v", err)
			}
			m.CopyTimeout = Duration(t)
			p.setBy(d, "mss.copy_timeout")
		default:
			d.warnf("ignoring invalid copycmd option %q", w)
		}
		w, ok = d.next()
	}
	if !ok {
		return d.errf("copy command not specified (the program must be an absolute path)")
	}
	argv := append([]string{w}, d.rest()...)
	if !in && !out {
		in, out = true, true
	}
	switch {
	case url && in:
		m.CopyInURL = argv
	case in:
		m.CopyIn = argv
	}
	switch {
	case url && out:
		m.CopyOutURL = append([]string(nil), argv...)
	case out:
		m.CopyOut = append([]string(nil), argv...)
	}
	return nil
}

// frm.xfr.copymax <n> | frm.xfr.copymax split <in> <out>   (the ranges are
// checked by Validate)
func (p *xrdParser) xcopymax(d *directive) error {
	w, ok := d.next()
	if !ok {
		return d.errf("copymax value not specified")
	}
	t := &p.cfg.Transfer
	p.setBy(d, "transfer.copy_max", "transfer.copy_max_in", "transfer.copy_max_out")
	if w == "split" {
		a, ok1 := d.next()
		b, ok2 := d.next()
		if !ok1 || !ok2 {
			return d.errf("copymax split needs <in> <out>")
		}
		in, err := xint(a)
		if err != nil {
			return d.errf("invalid copymax split value %q: %v", a, err)
		}
		out, err := xint(b)
		if err != nil {
			return d.errf("invalid copymax split value %q: %v", b, err)
		}
		for _, n := range []int{in, out} {
			if n < 0 {
				return d.errf("must not be negative (is %d)", n)
			}
		}
		sum := in + out
		if sum < 0 {
			sum = math.MaxInt // as many as asked for: unlimited
		}
		t.CopyMax, t.CopyMaxIn, t.CopyMaxOut = sum, in, out
		return nil
	}
	n, err := xint(w)
	if err != nil {
		return d.errf("invalid copymax value %q: %v", w, err)
	}
	t.CopyMax, t.CopyMaxIn, t.CopyMaxOut = n, 0, 0
	return nil
}

// xint parses a decimal integer, saying what is wrong with it.
func xint(s string) (int, error) {
	n, err := strconv.Atoi(s)
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		if ne.Err == strconv.ErrRange {
			return 0, errors.New("out of range")
		}
		return 0, errors.New("not a number")
	}
	return n, err
}

// frm.xfr.qcheck [<t>] [<abs path>]
func (p *xrdParser) xqcheck(d *directive) error {
	w, ok := d.next()
	if !ok {
		return d.errf("qcheck time not specified")
	}
	if !strings.HasPrefix(w, "/") {
		t, err := ParseDuration(w)
		if err != nil {
			return d.errf("qcheck time: %v", err)
		}
		p.cfg.Transfer.QCheck = Duration(t)
		p.setBy(d, "transfer.qcheck")
		if w, ok = d.next(); !ok {
			return nil
		}
	}
	if !strings.HasPrefix(w, "/") {
		return d.errf("qcheck path not absolute: %q", w)
	}
	p.cfg.Transfer.QueuePath = w
	p.setBy(d, "transfer.queue_path")
	return nil
}

func (p *xrdParser) xtime(d *directive, what string, dst *Duration, key string) error {
	w, ok := d.next()
	if !ok {
		return d.errf("%s not specified", what)
	}
	t, err := ParseDuration(w)
	if err != nil {
		return d.errf("%s: %v", what, err)
	}
	*dst = Duration(t)
	p.setBy(d, key)
	return nil
}

func startsDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// frm.purge.policy {*|<space>} {<min> [<max>] | nopurge} [hold <t>|forever] [polprog]
// frm.purge.policy = [vars] |<prog> [args]
func (p *xrdParser) xpolicy(d *directive) error {
	name, ok := d.next()
	if !ok {
		return d.errf("space name not specified")
	}
	if name == "=" {
		return p.xpolprog(d)
	}
	if len(name) > MaxSpaceName {
		return d.errf("space name %q too long", name)
	}
	if name != DefaultPolicySpace && !ValidSpaceName(name) {
		return d.errf("invalid space name %q", name)
	}
	pols := &p.cfg.Purge.Policies
	// The values not given come from the "*" policy as it is now.
	pol := (*pols)[0]
	pol.Space, pol.UsePolProg = name, false
	w, ok := d.next()
	switch {
	case ok && startsDigit(w):
		minP, minB, minPct, err := ParseWatermark(w)
		if err != nil {
			return d.errf("min free: %v", err)
		}
		pol.NoPurge, pol.Min, pol.Max = false, w, ""
		if w, ok = d.next(); ok && startsDigit(w) {
			maxP, maxB, maxPct, err := ParseWatermark(w)
			if err != nil {
				return d.errf("max free: %v", err)
			}
			if minPct != maxPct {
				return d.errf("purge min/max may not differ in type")
			}
			if (minPct && minP >= maxP) || (!minPct && minB >= maxB) {
				return d.errf("purge min must be < max value")
			}
			pol.Max = w
			w, ok = d.next()
		}
	case ok && w == "nopurge":
		pol.NoPurge, pol.Min, pol.Max = true, "", ""
		if w, ok = d.next(); ok {
			d.warnf("ignoring extraneous policy option %q", w)
			ok = false
		}
	}
	for ; ok; w, ok = d.next() {
		switch w {
		case "polprog":
			pol.UsePolProg = true
		case "hold":
			v, ok := d.next()
			if !ok {
				return d.errf("policy hold argument not specified")
			}
			if v == "forever" {
				pol.Hold, pol.HoldForever = 0, true
				continue
			}
			t, err := ParseDuration(v)
			if err != nil {
				return d.errf("purge hold: %v", err)
			}
			pol.Hold, pol.HoldForever = Duration(t), false
		default:
			d.warnf("ignoring invalid policy option %q", w)
		}
	}
	if name == DefaultPolicySpace {
		completePolicy(&pol, DefaultPolicy(), true)
		(*pols)[0] = pol
		p.setBy(d, "purge.policy[0]")
		return nil
	}
	for i := range *pols {
		if (*pols)[i].Space == name {
			(*pols)[i] = pol
			p.setBy(d, fmt.Sprintf("purge.policy[%d]", i))
			return nil
		}
	}
	*pols = append(*pols, pol)
	p.setBy(d, fmt.Sprintf("purge.policy[%d]", len(*pols)-1))
	return nil
}

// frm.purge.polprog [vars] |<prog> [args]
func (p *xrdParser) xpolprog(d *directive) error {
	var vars []string
	w, ok := d.next()
	for ok && !strings.HasPrefix(w, "|") {
		if oneOf(w, polProgVars) {
			vars = append(vars, w)
		} else {
			d.warnf("ignoring invalid policy option %q", w)
		}
		w, ok = d.next()
	}
	if !ok {
		return d.errf("policy program not specified")
	}
	prog := w[1:]
	if prog == "" {
		if prog, ok = d.next(); !ok {
			return d.errf("policy program not specified")
		}
	}
	p.cfg.Purge.PolProg = append([]string{prog}, d.rest()...)
	p.cfg.Purge.PolVars = vars
	return nil
}
