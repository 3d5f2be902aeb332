package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The configuration of the reference observations (xrootd-frm.md §4).
const referenceSample = `all.adminpath /srv/frmsite/admin
all.pidpath /srv/frmsite/run
oss.localroot /srv/frmsite/ns
oss.remoteroot /srv/frmsite/mss
oss.space public /srv/frmsite/spaces/p1
oss.space data /srv/frmsite/spaces/d1
oss.space data /srv/frmsite/spaces/d2
oss.space fast /srv/frmsite/spaces/f1
oss.space fast /srv/frmsite/spaces/f2
oss.usage log /srv/frmsite/usage
all.export /mig mig nostage purge nocheck
all.export /stg stage purge nocheck
all.export /both mig stage purge nocheck
all.export /plain nomig nostage nopurge
all.export /ro r/o
frm.xfr.copycmd in /bin/cp $SRC $DST
frm.xfr.copycmd out /bin/cp $SRC $DST
frm.xfr.copymax 1
frm.xfr.qcheck 5
frm.xfr.migr.idlehold 0
frm.xfr.migr.waittime 30
frm.purge.policy * 5% 10% hold 1h
frm.purge.policy fast nopurge
frm.purge.waittime 1m
`

// fixHost makes the local host name h for the duration of the test.
func fixHost(t *testing.T, h string) {
	t.Helper()
	old := hostname
	hostname = func() (string, error) { return h, nil }
	t.Cleanup(func() { hostname = old })
}

func TestXrootdReferenceSample(t *testing.T) {
	// Named .toml on purpose: the content decides.
	p := writeFile(t, t.TempDir(), "frm.toml", "# the reference site\n\n"+referenceSample)
	var debug []string
	c, err := LoadDebug(p, "", func(m string) { debug = append(debug, m) })
	if err != nil {
		t.Fatal(err)
	}
	cp := []string{"/bin/cp", "$SRC", "$DST"}
	want := &Config{
		AdminPath: "/srv/frmsite/admin", LocalRoot: "/srv/frmsite/ns", RemoteRoot: "/srv/frmsite/mss",
		Exports: []Export{
			{Path: "/mig", Mig: true, Purge: true, NoCheck: true},
			{Path: "/stg", Stage: true, Purge: true, NoCheck: true},
			{Path: "/both", Mig: true, Stage: true, Purge: true, NoCheck: true},
			{Path: "/plain"},
			{Path: "/ro", ReadOnly: true},
		},
		Spaces: []Space{
			{Name: "public", Partitions: []Partition{{Path: "/srv/frmsite/spaces/p1"}}},
			{Name: "data", Partitions: []Partition{{Path: "/srv/frmsite/spaces/d1"}, {Path: "/srv/frmsite/spaces/d2"}}},
			{Name: "fast", Partitions: []Partition{{Path: "/srv/frmsite/spaces/f1"}, {Path: "/srv/frmsite/spaces/f2"}}},
		},
		MSS: MSS{Backend: "command", CopyIn: cp, CopyOut: cp},
		Transfer: Transfer{CopyMax: 1, QCheck: Duration(5 * time.Second), Deny: Duration(3 * time.Hour),
			Retries: 3},
		Migrate: Migrate{IdleHold: 0, WaitTime: Duration(30 * time.Second)},
		Purge: Purge{DirHold: Duration(40 * time.Hour), WaitTime: Duration(time.Minute),
			Policies: []Policy{
				{Space: "*", Min: "5%", Max: "10%", Hold: Duration(time.Hour)},
				{Space: "fast", NoPurge: true, Hold: Duration(time.Hour)},
			}},
		Catalog:  Catalog{Kind: "embedded"},
		Usage:    Usage{LogDir: "/srv/frmsite/usage"},
		Checksum: Checksum{Default: "adler32"},
		Source:   p, Format: FormatXrootd,
		PidPath: "/srv/frmsite/run",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("reference sample:\n got %+v\nwant %+v", c, want)
	}
	if len(debug) != 0 {
		t.Errorf("debug lines = %q", debug)
	}
	if c.AdminDir() != "/srv/frmsite/admin/frm" || c.QueueDir() != "/srv/frmsite/admin/frm/Queues" {
		t.Errorf("AdminDir %s QueueDir %s", c.AdminDir(), c.QueueDir())
	}
	if c.PolicyFor("data").Min != "5%" || !c.PolicyFor("fast").NoPurge {
		t.Errorf("policies %+v", c.Purge.Policies)
	}
	back := roundTrip(t, c)
	if back.Format != FormatTOML {
		t.Error("converted config not TOML")
	}
	conv, err := ConvertXrootd(p, "")
	if err != nil || !reflect.DeepEqual(conv, c) {
		t.Errorf("ConvertXrootd = %+v, %v", conv, err)
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"a.toml", "all.export /x\n", FormatXrootd},
		{"a.cf", "site = \"x\"\n", FormatTOML},
		{"a.cf", "[transfer]\ncopy_max = 1\n", FormatTOML},
		{"a", "# comment\n\n  # more\nif named x\nfi\n", FormatXrootd},
		{"a", "set x = 1\n", FormatXrootd},
		{"a", "continue /etc/x.d\n", FormatXrootd},
		{"a", "mss.backend = \"posix\"\n", FormatTOML},
		{"a", "frm.purge.policy = sname pfn |/bin/pol\n", FormatXrootd},
		{"a", "frm.purge.policy = |/bin/pol\n", FormatXrootd},
		{"a", "xrd.port 1094\n", FormatXrootd},
		{"a", "admin_group = true\n", FormatTOML},
		{"a", "'quoted key' = 1\n", FormatTOML},
		{"a.cf", "# only comments\n", FormatXrootd},
		{"a.toml", "# only comments\n", FormatTOML},
		{"a", "", FormatTOML},
		{"a.conf", "oddline\nall.sitename x\n", FormatXrootd},
	}
	for _, tc := range tests {
		if got := DetectFormat([]byte(tc.content), tc.name); got != tc.want {
			t.Errorf("DetectFormat(%q, %q) = %s, want %s", tc.content, tc.name, got, tc.want)
		}
	}
}

func TestTOMLNamedCf(t *testing.T) {
	p := writeFile(t, t.TempDir(), "xrootd.cf", "# frm\nlocal_root = \"/ns\"\n[transfer]\ncopy_max = 7\n")
	c, err := Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != FormatTOML || c.LocalRoot != "/ns" || c.Transfer.CopyMax != 7 {
		t.Errorf("got format %s local_root %q copy_max %d", c.Format, c.LocalRoot, c.Transfer.CopyMax)
	}
	// frm config convert refuses it: it is no xrootd configuration (it
	// used to print an empty default configuration and exit 0).
	x, err := ConvertXrootd(p, "")
	if err == nil || !strings.Contains(err.Error(), "is a TOML file, not an xrootd configuration") {
		t.Errorf("ConvertXrootd = %+v, %v", x, err)
	}
}

func TestIfElseFi(t *testing.T) {
	const cfg = `
all.sitename base
if named alpha
  all.adminpath /adm/alpha
else if named beta gamma
  all.adminpath /adm/betagamma
else
  all.adminpath /adm/other
fi
if node*.example.org
  frm.xfr.copymax 5
  if named alpha
    frm.xfr.qcheck 11
  else
    frm.xfr.qcheck 22
  fi
else
  frm.xfr.copymax 6
fi
if exec xrootd cmsd
  oss.localroot /wrong
fi
if exec frm_xfrd && named beta
  oss.localroot /beta
fi
if node1 defined ?site
  oss.remoteroot /site
fi
set site = x
if defined ?site
  oss.remoteroot /mss-$site
fi
`
	tests := []struct {
		host, inst     string
		admin          string
		copymax        int
		qcheck         time.Duration
		local, remote  string
		wantErrContain string
	}{
		{host: "node1.example.org", inst: "alpha", admin: "/adm/alpha", copymax: 5, qcheck: 11 * time.Second, remote: "/mss-x"},
		{host: "node1.example.org", inst: "beta", admin: "/adm/betagamma", copymax: 5, qcheck: 22 * time.Second, local: "/beta", remote: "/mss-x"},
		{host: "Node7.Example.ORG", inst: "gamma", admin: "/adm/betagamma", copymax: 5, qcheck: 22 * time.Second, remote: "/mss-x"},
		{host: "other.example.org", inst: "", admin: "/adm/other", copymax: 6, qcheck: 300 * time.Second, remote: "/mss-x"},
		{host: "other", inst: "default", admin: "/adm/other", copymax: 6, qcheck: 300 * time.Second, remote: "/mss-x"},
		{host: "other", inst: "anon", admin: "/adm/other", copymax: 6, qcheck: 300 * time.Second, remote: "/mss-x"},
	}
	for _, tc := range tests {
		t.Run(tc.host+"/"+tc.inst, func(t *testing.T) {
			fixHost(t, tc.host)
			c, err := Parse([]byte(cfg), "x.cf", tc.inst, nil)
			if err != nil {
				if tc.wantErrContain == "" || !strings.Contains(err.Error(), tc.wantErrContain) {
					t.Fatal(err)
				}
				return
			}
			if c.AdminPath != tc.admin || c.Transfer.CopyMax != tc.copymax ||
				c.Transfer.QCheck.Std() != tc.qcheck || c.LocalRoot != tc.local || c.RemoteRoot != tc.remote {
				t.Errorf("admin %q copymax %d qcheck %v local %q remote %q", c.AdminPath,
					c.Transfer.CopyMax, c.Transfer.QCheck, c.LocalRoot, c.RemoteRoot)
			}
			if c.Site != "base" || c.Instance != NormalizeInstance(tc.inst) {
				t.Errorf("site %q instance %q", c.Site, c.Instance)
			}
		})
	}
}

func TestIfErrors(t *testing.T) {
	fixHost(t, "h")
	tests := []struct {
		cfg, want string
	}{
		{"if named a\n", "x.cf:1: if: missing fi"},
		{"fi\n", "x.cf:1: fi: no matching if"},
		{"else\n", "x.cf:1: else: no matching if"},
		{"if h\nelse\nelse\nfi\n", "x.cf:3: else: else after else (the if is at line 1)"},
		{"if\nfi\n", "x.cf:1: if: host name missing after 'if'"},
		{"if exec\nfi\n", "x.cf:1: if: program name missing after 'if exec'"},
		{"if named\nfi\n", "x.cf:1: if: instance name missing after 'if named'"},
		{"if defined x\nfi\n", `x.cf:1: if: "x" is invalid for defined test`},
		{"if h\nelse junk\nfi\n", `x.cf:2: else: unexpected "junk" after else`},
		{"if h\nfi\nif h\n  if h\n  fi\n", "x.cf:3: if: missing fi"},
		{"if other\nelse if\nfi\n", "x.cf:2: else if: host name missing after 'if'"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.cfg), "x.cf", "", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	// Errors in branches that are skipped are not evaluated.
	if _, err := Parse([]byte("if other\n if\n fi\nfi\n"), "x.cf", "", nil); err != nil {
		t.Errorf("skipped branch evaluated: %v", err)
	}
}

func TestWildcardSpaces(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"d2", "d1", "d10", "dx", "e1", "d3"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, dir, "d4", "a file, not a directory")
	if err := os.Symlink(filepath.Join(dir, "e1"), filepath.Join(dir, "d5")); err != nil {
		t.Fatal(err)
	}
	cfg := "oss.space data " + dir + "/d*\n" +
		"oss.space all " + dir + "/*\n" +
		"oss.space data " + dir + "/d1\n" + // duplicate: ignored
		"oss.space none " + dir + "/zz*\n" +
		"oss.cache old " + dir + "/e* xa\n"
	var debug []string
	c, err := Parse([]byte(cfg), "w.cf", "", func(m string) { debug = append(debug, m) })
	if err != nil {
		t.Fatal(err)
	}
	parts := func(name string, subs ...string) Space {
		s := Space{Name: name}
		for _, sub := range subs {
			s.Partitions = append(s.Partitions, Partition{Path: filepath.Join(dir, sub)})
		}
		return s
	}
	want := []Space{
		parts("data", "d1", "d10", "d2", "d3", "d5", "dx"),
		parts("all", "d1", "d10", "d2", "d3", "d5", "dx", "e1"),
		parts("old", "e1"),
	}
	if !reflect.DeepEqual(c.Spaces, want) {
		t.Errorf("spaces:\n got %+v\nwant %+v", c.Spaces, want)
	}
	if len(debug) != 0 || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "w.cf:4: oss.space: no space directories found") {
		t.Errorf("debug = %q, warnings = %q", debug, c.Warnings)
	}
	_, err = Parse([]byte("oss.space data "+dir+"/nosuch/x*\n"), "w.cf", "", nil)
	if err == nil || !strings.Contains(err.Error(), "w.cf:1: oss.space: cannot open space directory") {
		t.Errorf("missing wildcard parent: %v", err)
	}
}

func TestMalformedDirectives(t *testing.T) {
	tests := []struct {
		cfg, want string
	}{
		{"all.adminpath\n", "bad.cf:1: all.adminpath: adminpath not specified"},
		{"\n\nall.adminpath rel/path\n", "bad.cf:3: all.adminpath: adminpath not absolute: rel/path"},
		{"all.adminpath /a world\n", `bad.cf:1: all.adminpath: invalid admin path modifier "world"`},
		{"all.export\n", "bad.cf:1: all.export: export path not specified"},
		{"all.export store mig\n", `bad.cf:1: all.export: export path must be absolute: "store"`},
		{"all.export /store mig bogus\n", `bad.cf:1: all.export: invalid path option "bogus"`},
		{"oss.defaults frobnicate\n", `bad.cf:1: oss.defaults: invalid path option "frobnicate"`},
		{"all.export /a mig noxattrs\n", `bad.cf: export[0]: noxattrs cannot be combined with mig or purge`},
		{"oss.localroot\n", "bad.cf:1: oss.localroot: no value for directive"},
		{"oss.localroot ns\n", `bad.cf:1: oss.localroot: localroot must be absolute: "ns"`},
		{"oss.remoteroot mss\n", `bad.cf:1: oss.remoteroot: remoteroot must be an absolute path or a URL: "mss"`},
		{"oss.space\n", "bad.cf:1: oss.space: space name not specified"},
		{"oss.space data\n", "bad.cf:1: oss.space: path to space not specified"},
		{"oss.space data rel\n", `bad.cf:1: oss.space: invalid space path "rel"`},
		{"oss.space bad/name /a\n", `bad.cf:1: oss.space: invalid space name "bad/name"`},
		{"oss.space " + strings.Repeat("n", 64) + " /a\n", "bad.cf:1: oss.space: excessively long space name"},
		{"oss.space data /a wobble\n", `bad.cf:1: oss.space: invalid space option "wobble"`},
		{"oss.space data /a chkmount\n", "bad.cf:1: oss.space: chkmount id not specified"},
		{"oss.cache public /a\n", "bad.cf:1: oss.cache: old-style spaces using oss.cache are no longer supported"},
		{"oss.cache public /a xb\n", `bad.cf:1: oss.cache: invalid cache option "xb"`},
		{"oss.usage log\n", "bad.cf:1: oss.usage: usage log directory not specified"},
		{"oss.usage loud\n", `bad.cf:1: oss.usage: invalid usage option "loud"`},
		{"oss.xfr deny\n", "bad.cf:1: oss.xfr: xfr deny value not specified"},
		{"oss.xfr deny soon\n", `bad.cf:1: oss.xfr: xfr deny: invalid duration "soon"`},
		{"oss.xfr fdir rel\n", `bad.cf:1: oss.xfr: xfr fdir must be absolute: "rel"`},
		{"xrootd.chksum\n", "bad.cf:1: xrootd.chksum: chksum algorithm not specified"},
		{"xrootd.chksum max 4 /prog\n", "bad.cf:1: xrootd.chksum: chksum algorithm not specified"},
		{"xrootd.chksum sha256 /prog\n", `bad.cf:1: xrootd.chksum: unsupported checksum algorithm "sha256"`},
		{"frm.xfr.copycmd in\n", "bad.cf:1: frm.xfr.copycmd: copy command not specified"},
		{"frm.xfr.copycmd in cp $SRC $DST\n", "bad.cf:1: frm.xfr.copycmd: copy command not specified"},
		{"frm.xfr.copycmd timeout\n", "bad.cf:1: frm.xfr.copycmd: copy command timeout not specified"},
		{"frm.xfr.copycmd timeout x /bin/cp\n", `bad.cf:1: frm.xfr.copycmd: copy command timeout: invalid duration "x"`},
		{"frm.xfr.copymax\n", "bad.cf:1: frm.xfr.copymax: copymax value not specified"},
		{"frm.xfr.copymax 0\n", `bad.cf:1: frm.xfr.copymax: must be at least 1 (is 0)`},
		{"frm.xfr.copymax many\n", `bad.cf:1: frm.xfr.copymax: invalid copymax value "many"`},
		{"frm.xfr.copymax split 1\n", "bad.cf:1: frm.xfr.copymax: copymax split needs <in> <out>"},
		{"frm.xfr.copymax split 0 0\n", `bad.cf:1: frm.xfr.copymax: must be at least 1 (is 0)`},
		{"frm.xfr.copymax split -1 2\n", `bad.cf:1: frm.xfr.copymax: must not be negative (is -1)`},
		{"frm.xfr.qcheck\n", "bad.cf:1: frm.xfr.qcheck: qcheck time not specified"},
		{"frm.xfr.qcheck often\n", `bad.cf:1: frm.xfr.qcheck: qcheck time: invalid duration "often"`},
		{"frm.xfr.qcheck 5 rel\n", `bad.cf:1: frm.xfr.qcheck: qcheck path not absolute: "rel"`},
		{"frm.xfr.migr.idlehold\n", "bad.cf:1: frm.xfr.migr.idlehold: idle time not specified"},
		{"frm.xfr.migr.waittime 5y\n", `bad.cf:1: frm.xfr.migr.waittime: migr wait: invalid duration "5y"`},
		{"frm.purge.dirhold -1\n", `bad.cf:1: frm.purge.dirhold: dirpolicy hold time: invalid duration "-1"`},
		{"frm.purge.waittime\n", "bad.cf:1: frm.purge.waittime: purge wait not specified"},
		{"frm.purge.policy\n", "bad.cf:1: frm.purge.policy: space name not specified"},
		{"frm.purge.policy a/b 5%\n", `bad.cf:1: frm.purge.policy: invalid space name "a/b"`},
		{"frm.purge.policy * 10% 5%\n", "bad.cf:1: frm.purge.policy: purge min must be < max value"},
		{"frm.purge.policy * 10% 50g\n", "bad.cf:1: frm.purge.policy: purge min/max may not differ in type"},
		{"frm.purge.policy * 5x\n", `bad.cf:1: frm.purge.policy: min free: invalid watermark "5x"`},
		{"frm.purge.policy * 200%\n", `bad.cf:1: frm.purge.policy: min free: invalid percentage "200%"`},
		{"frm.purge.policy * 5% hold\n", "bad.cf:1: frm.purge.policy: policy hold argument not specified"},
		{"frm.purge.policy * 5% hold never\n", `bad.cf:1: frm.purge.policy: purge hold: invalid duration "never"`},
		{"frm.purge.policy * 5% polprog\n", "bad.cf:1: frm.purge.policy: polprog: needs purge.polprog"},
		{"frm.purge.polprog sname\n", "bad.cf:1: frm.purge.polprog: policy program not specified"},
		{"frm.purge.policy = sname |\n", "bad.cf:1: frm.purge.policy: policy program not specified"},
		{"set\n", "bad.cf:1: set: variable name not specified"},
		{"set a-b = 1\n", `bad.cf:1: set: invalid variable name "a-b"`},
		{"set a =\n", "bad.cf:1: set: no value for variable a"},
		{"continue\n", "bad.cf:1: continue: path not specified"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.cfg), "bad.cf", "", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v\n want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestXrootdDirectives(t *testing.T) {
	fixHost(t, "h")
	const cfg = `
# defaults apply to every export, whatever the order
all.export /a
oss.defaults mig nocheck mmap
all.export /b nomig check
oss.path /c/ r/w purge stage+
all.export /d forcero dread norcreate
all.export /e notwritable
all.export /e writable mlock mkeep
all.export /f readonly noxattrs nomig
all.sitename first
all.sitename second
all.adminpath /adm group
oss.localroot /ns/
oss.remoteroot root://mss.example.org//store/
oss.space fast /f1 chkmount id1 nofail
oss.space fast default /x
oss.space fast assign /y
oss.usage log /usage sync 10 quotafile /q
oss.usage nolog
oss.usage log /usage2
oss.xfr deny 10m fdir /fail keep 1h 8 9
xrootd.chksum chkcgi max 4 CRC32C /bin/ck
frm.xfr.copycmd url in timeout 1h noalloc rmerr stats xpd bogus /bin/urlget $SRC $DST
frm.xfr.copycmd out /bin/put -f $SRC $DST $CGI
frm.xfr.copymax split 3 2
frm.xfr.qcheck /queues
frm.xfr.migr.idlehold 2h
frm.xfr.migr.waittime 1h
frm.purge.policy data 20g hold 2d
frm.purge.policy * 7% hold forever
frm.purge.policy fast polprog
frm.purge.policy slow 3% 8% polprog hold 4h junk
frm.purge.policy data 10g 20g
frm.purge.policy off nopurge hold 2h
frm.purge.polprog sname pfn bogus fsize |/bin/pol -x $PFN
frm.purge.dirhold 1d
frm.purge.waittime 90
frm.all.monitor dest stage purge host:1234
frm.xfr.nonsense 1
`
	var debug []string
	c, err := Parse([]byte(cfg), "d.cf", "", func(m string) { debug = append(debug, m) })
	if err != nil {
		t.Fatal(err)
	}
	wantExports := []Export{
		{Path: "/a", Mig: true, NoCheck: true, MMap: true},
		{Path: "/b", MMap: true},
		{Path: "/c", Mig: true, Stage: true, Purge: true, NoCheck: true, MMap: true},
		{Path: "/d", Mig: true, NoCheck: true, MMap: true, ReadOnly: true},
		{Path: "/e", Mig: true, NoCheck: true, MMap: true, MLock: true, MKeep: true},
		{Path: "/f", NoCheck: true, MMap: true, ReadOnly: true, NoXattrs: true},
	}
	if !reflect.DeepEqual(c.Exports, wantExports) {
		t.Errorf("exports:\n got %+v\nwant %+v", c.Exports, wantExports)
	}
	wantMSS := MSS{Backend: "command",
		CopyInURL: []string{"/bin/urlget", "$SRC", "$DST"},
		CopyOut:   []string{"/bin/put", "-f", "$SRC", "$DST", "$CGI"},
		NoAlloc:   true, RmErr: true, Stats: true,
		CopyTimeout: Duration(time.Hour)}
	if !reflect.DeepEqual(c.MSS, wantMSS) {
		t.Errorf("mss:\n got %+v\nwant %+v", c.MSS, wantMSS)
	}
	wantPolicies := []Policy{
		{Space: "*", Min: "7%", Max: "8%", HoldForever: true},
		{Space: "data", Min: "10g", Max: "20g", HoldForever: true},
		{Space: "fast", Min: "7%", Max: "8%", HoldForever: true, UsePolProg: true},
		{Space: "slow", Min: "3%", Max: "8%", Hold: Duration(4 * time.Hour), UsePolProg: true},
		{Space: "off", NoPurge: true, HoldForever: true},
	}
	if !reflect.DeepEqual(c.Purge.Policies, wantPolicies) {
		t.Errorf("policies:\n got %+v\nwant %+v", c.Purge.Policies, wantPolicies)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"site", c.Site, "first"},
		{"adminpath", c.AdminPath, "/adm"},
		{"admin group", c.AdminGroup, true},
		{"localroot", c.LocalRoot, "/ns"},
		{"remoteroot", c.RemoteRoot, "root://mss.example.org//store/"},
		{"spaces", c.Spaces, []Space{{Name: "fast", Partitions: []Partition{{Path: "/f1"}}}}},
		{"usage", c.Usage.LogDir, "/usage2"},
		{"deny", c.Transfer.Deny, Duration(10 * time.Minute)},
		{"fdir", c.Transfer.FailDir, "/fail"},
		{"chksum", c.Checksum.Default, "crc32c"},
		{"copymax", []int{c.Transfer.CopyMax, c.Transfer.CopyMaxIn, c.Transfer.CopyMaxOut}, []int{5, 3, 2}},
		{"qcheck", c.Transfer.QCheck, Duration(300 * time.Second)},
		{"queue path", c.Transfer.QueuePath, "/queues"},
		{"queue dir", c.QueueDir(), "/queues/Queues"},
		{"idlehold", c.Migrate.IdleHold, Duration(2 * time.Hour)},
		{"waittime raised", c.Migrate.WaitTime, Duration(2 * time.Hour)},
		{"polprog", c.Purge.PolProg, []string{"/bin/pol", "-x", "$PFN"}},
		{"polvars", c.Purge.PolVars, []string{"sname", "pfn", "fsize"}},
		{"dirhold", c.Purge.DirHold, Duration(24 * time.Hour)},
		{"purge wait", c.Purge.WaitTime, Duration(90 * time.Second)},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %+v, want %+v", ch.name, ch.got, ch.want)
		}
	}
	wantDebug := []string{
		// Valid xrootd that frm does not use: told with -d only.
		"d.cf:7: all.export: ignoring path option dread",
		"d.cf:7: all.export: ignoring path option norcreate",
		"d.cf:17: oss.space: ignoring default",
		"d.cf:18: oss.space: ignoring assign",
		`d.cf:22: oss.xfr: ignoring options from "8" on`,
		"d.cf:39: ignoring directive frm.all.monitor",
	}
	if !reflect.DeepEqual(debug, wantDebug) {
		t.Errorf("debug:\n got %q\nwant %q", debug, wantDebug)
	}
	// Mistakes: warnings, shown by every command.
	wantWarnings := []string{
		`d.cf:12: all.sitename: sitename already specified, using "first"`,
		`d.cf:24: frm.xfr.copycmd: ignoring invalid copycmd option "bogus"`,
		`d.cf:33: frm.purge.policy: ignoring invalid policy option "junk"`,
		`d.cf:35: frm.purge.policy: ignoring extraneous policy option "hold"`,
		`d.cf:36: frm.purge.polprog: ignoring invalid policy option "bogus"`,
		"d.cf:40: ignoring unknown frm directive frm.xfr.nonsense",
	}
	if !reflect.DeepEqual(c.Warnings, wantWarnings) {
		t.Errorf("warnings:\n got %q\nwant %q", c.Warnings, wantWarnings)
	}
	roundTrip(t, c)
}

func TestPolicyEqualsForm(t *testing.T) {
	c, err := Parse([]byte("frm.purge.policy = fsize atime | /bin/pol a b\nfrm.purge.policy * 5% polprog\n"), "p.cf", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Purge.PolProg, []string{"/bin/pol", "a", "b"}) ||
		!reflect.DeepEqual(c.Purge.PolVars, []string{"fsize", "atime"}) || !c.Purge.Policies[0].UsePolProg {
		t.Errorf("polprog %q vars %q policies %+v", c.Purge.PolProg, c.Purge.PolVars, c.Purge.Policies)
	}
}

func TestSetAndContinue(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "conf.d/10-spaces.cf", "oss.space public $(base)/p1\n")
	writeFile(t, dir, "conf.d/20-exports.cf", "all.export /$top mig\nif named inst\n  all.export /inst\nfi\n")
	writeFile(t, dir, "conf.d/30-skip.cf~", "all.export /backup\n")
	writeFile(t, dir, "conf.d/.hidden", "all.export /hidden\n")
	writeFile(t, dir, "conf.d/40-other.txt", "all.export /txt\n")
	writeFile(t, dir, "extra.cf", "frm.xfr.copymax 9\n")
	main := writeFile(t, dir, "main.cf", `
set base = /srv/sp
set top = store
setenv ignored = x
continue conf.d/ *.cf
continue `+dir+`/extra.cf
oss.localroot $base/ns
frm.xfr.copycmd /bin/cp $SRC $DST $base
`)
	c, err := Load(main, "inst")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Spaces, []Space{{Name: "public", Partitions: []Partition{{Path: "/srv/sp/p1"}}}}) {
		t.Errorf("spaces %+v", c.Spaces)
	}
	if !reflect.DeepEqual(c.Exports, []Export{{Path: "/store", Mig: true}, {Path: "/inst"}}) {
		t.Errorf("exports %+v", c.Exports)
	}
	if c.LocalRoot != "/srv/sp/ns" || c.Transfer.CopyMax != 9 {
		t.Errorf("localroot %q copymax %d", c.LocalRoot, c.Transfer.CopyMax)
	}
	// Copy command arguments are not substituted: $base stays for the
	// transfer daemon, like $SRC.
	if !reflect.DeepEqual(c.MSS.CopyIn, []string{"/bin/cp", "$SRC", "$DST", "$base"}) {
		t.Errorf("copy_in %q", c.MSS.CopyIn)
	}

	writeFile(t, dir, "loop.cf", "continue loop.cf\n")
	if _, err := Load(filepath.Join(dir, "loop.cf"), ""); err == nil || !strings.Contains(err.Error(), "too many nested continue") {
		t.Errorf("include loop: %v", err)
	}
	writeFile(t, dir, "inc-bad.cf", "continue sub.cf\n")
	writeFile(t, dir, "sub.cf", "\noss.localroot rel\n")
	if _, err := Load(filepath.Join(dir, "inc-bad.cf"), ""); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "sub.cf")+":2: oss.localroot") {
		t.Errorf("error in included file: %v", err)
	}
	writeFile(t, dir, "inc-missing.cf", "continue nosuch.cf\n")
	if _, err := Load(filepath.Join(dir, "inc-missing.cf"), ""); err == nil || !strings.Contains(err.Error(), "inc-missing.cf:1: continue:") {
		t.Errorf("missing include: %v", err)
	}
}

func TestBackslashContinuationAndComments(t *testing.T) {
	c, err := Parse([]byte("all.export /a \\\n   mig \\\n   purge # trailing comment\n  # indented comment\nall.export /b #stage\n"), "c.cf", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Export{{Path: "/a", Mig: true, Purge: true}, {Path: "/b"}}
	if !reflect.DeepEqual(c.Exports, want) {
		t.Errorf("exports %+v", c.Exports)
	}
	_, err = Parse([]byte("all.export /a \\\n  bogus\n"), "c.cf", "", nil)
	if err == nil || !strings.Contains(err.Error(), "c.cf:1: all.export") {
		t.Errorf("continued line error: %v", err)
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"a", "a", true}, {"a", "b", false}, {"*", "", true}, {"*", "abc", true},
		{"node*", "node1", true}, {"node*.org", "node1.x.org", true}, {"node*.org", "node1.x.com", false},
		{"*.org", "a.org", true}, {"a*b*c", "aXbYc", true}, {"a*b*c", "aXcYb", false},
		{"ab*ba", "aba", false},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pat, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.pat, tc.s, got)
		}
	}
}
