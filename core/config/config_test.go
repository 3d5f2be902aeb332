package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// roundTrip writes c as TOML, loads it back and fails unless equal.
func roundTrip(t *testing.T, c *Config) *Config {
	t.Helper()
	var buf bytes.Buffer
	if err := c.WriteTOML(&buf); err != nil {
		t.Fatalf("WriteTOML: %v", err)
	}
	p := writeFile(t, t.TempDir(), "rt.toml", buf.String())
	back, err := Load(p, "")
	if err != nil {
		t.Fatalf("reloading WriteTOML output: %v\n%s", err, buf.String())
	}
	if back.Format != FormatTOML {
		t.Errorf("reloaded format = %q", back.Format)
	}
	a, b := *c, *back
	a.Source, a.Format, b.Source, b.Format = "", "", "", ""
	a.Warnings, b.Warnings = nil, nil // about the file read, not the values
	if !reflect.DeepEqual(a, b) {
		t.Errorf("round trip differs:\nbefore %+v\nafter  %+v\nTOML:\n%s", a, b, buf.String())
	}
	return back
}

const fullTOML = `
site = "testsite"
instance = "inst1"
admin_path = "/srv/admin"
admin_group = true
local_root = "/srv/ns/"
remote_root = "/srv/mss"

[[export]]
path = "/store/"
mig = true
stage = true
purge = true

[[export]]
path = "/store/local"
mmap = true
mlock = true
mkeep = true

[[export]]
path = "/ro"
readonly = true
nocheck = true
noxattrs = true

[[space]]
name = "public"
[[space.partitions]]
path = "/srv/sp/p1"
[[space.partitions]]
path = "/srv/sp/p2"
cap = "2t"

[[space]]
name = "data"
[[space.partitions]]
path = "/srv/sp/d1"

[mss]
copy_in = ["/usr/bin/get", "$SRC", "$DST"]
copy_out = ["/usr/bin/put", "$SRC", "$DST"]
copy_timeout = "2h"

[transfer]
copy_max = 4
copy_max_in = 3
copy_max_out = 1
qcheck = 60
deny = "1h"
queue_path = "/srv/queues"
fail_dir = "/srv/fail"
retries = 0

[migrate]
idle_hold = "20m"
wait_time = "5m"

[purge]
dir_hold = "1d"
wait_time = 120
polprog = ["/usr/bin/pol", "-v"]
polprog_vars = ["sname", "pfn"]

[[purge.policy]]
space = "*"
min = "5%"
hold = "2h"

[[purge.policy]]
space = "data"
min = "100G"
max = "200g"
polprog = true

[[purge.policy]]
space = "public"
hold_forever = true

[catalog]
kind = "postgres"
dsn = "host=db user=frm dbname=frm"

[usage]
log_dir = "/srv/usage"

[checksum]
default = "MD5"
`

func TestLoadTOML(t *testing.T) {
	p := writeFile(t, t.TempDir(), "site.conf", fullTOML) // extension says nothing
	c, err := Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Site: "testsite", Instance: "inst1", AdminPath: "/srv/admin", AdminGroup: true,
		LocalRoot: "/srv/ns", RemoteRoot: "/srv/mss",
		Exports: []Export{
			{Path: "/store", Mig: true, Stage: true, Purge: true},
			{Path: "/store/local", MMap: true, MLock: true, MKeep: true},
			{Path: "/ro", ReadOnly: true, NoCheck: true, NoXattrs: true},
		},
		Spaces: []Space{
			{Name: "public", Partitions: []Partition{{Path: "/srv/sp/p1"}, {Path: "/srv/sp/p2", Cap: 2 << 40}}},
			{Name: "data", Partitions: []Partition{{Path: "/srv/sp/d1"}}},
		},
		MSS: MSS{Backend: "command",
			CopyIn:      []string{"/usr/bin/get", "$SRC", "$DST"},
			CopyOut:     []string{"/usr/bin/put", "$SRC", "$DST"},
			CopyTimeout: Duration(2 * time.Hour)},
		Transfer: Transfer{CopyMax: 4, CopyMaxIn: 3, CopyMaxOut: 1, QCheck: Duration(time.Minute),
			Deny: Duration(time.Hour), QueuePath: "/srv/queues", FailDir: "/srv/fail", Retries: 0},
		Migrate: Migrate{IdleHold: Duration(20 * time.Minute), WaitTime: Duration(20 * time.Minute)},
		Purge: Purge{DirHold: Duration(24 * time.Hour), WaitTime: Duration(2 * time.Minute),
			PolProg: []string{"/usr/bin/pol", "-v"}, PolVars: []string{"sname", "pfn"},
			Policies: []Policy{
				{Space: "*", Min: "5%", Max: "6%", Hold: Duration(2 * time.Hour)},
				{Space: "data", Min: "100g", Max: "200g", Hold: Duration(2 * time.Hour), UsePolProg: true},
				{Space: "public", Min: "5%", Max: "6%", HoldForever: true},
			}},
		Catalog:  Catalog{Kind: "postgres", DSN: "host=db user=frm dbname=frm"},
		Usage:    Usage{LogDir: "/srv/usage"},
		Checksum: Checksum{Default: "md5"},
		Source:   p, Format: FormatTOML,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", c, want)
	}
	roundTrip(t, c)

	// -n overrides the file's instance; anon/default mean none.
	for inst, want := range map[string]string{"other": "other", "": "inst1", "anon": "inst1"} {
		c, err := Load(p, inst)
		if err != nil {
			t.Fatal(err)
		}
		if c.Instance != want {
			t.Errorf("Load(instance %q).Instance = %q, want %q", inst, c.Instance, want)
		}
	}
}

func TestDefaults(t *testing.T) {
	d := Default()
	if err := d.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
	p := writeFile(t, t.TempDir(), "site.toml", "# nothing but a name\nsite = \"s\"\n")
	c, err := Load(p, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Source, c.Format, c.Site = "", "", ""
	if !reflect.DeepEqual(c, d) {
		t.Errorf("empty file:\n got %+v\nwant %+v", c, d)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"copy_max", c.Transfer.CopyMax, 2},
		{"qcheck", c.Transfer.QCheck, Duration(300 * time.Second)},
		{"deny", c.Transfer.Deny, Duration(3 * time.Hour)},
		{"retries", c.Transfer.Retries, 3},
		{"idle_hold", c.Migrate.IdleHold, Duration(600 * time.Second)},
		{"migr wait", c.Migrate.WaitTime, Duration(3600 * time.Second)},
		{"dir_hold", c.Purge.DirHold, Duration(144000 * time.Second)},
		{"purge wait", c.Purge.WaitTime, Duration(600 * time.Second)},
		{"policy", c.Purge.Policies, []Policy{{Space: "*", Min: "2%", Max: "3%", Hold: Duration(72000 * time.Second)}}},
		{"catalog", c.Catalog.Kind, "embedded"},
		{"checksum", c.Checksum.Default, "adler32"},
		{"backend", c.MSS.Backend, ""},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("default %s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestDerivedDefaults(t *testing.T) {
	tests := []struct {
		name  string
		toml  string
		check func(c *Config) string
	}{
		{"posix backend from remote_root", `remote_root = "/mss"`, func(c *Config) string {
			return expect(c.MSS.Backend, "posix")
		}},
		{"command backend from copy commands", "remote_root = \"/mss\"\n[mss]\ncopy_in = [\"/bin/cp\", \"$SRC\", \"$DST\"]", func(c *Config) string {
			return expect(c.MSS.Backend, "command")
		}},
		{"explicit backend kept", "[mss]\nbackend = \"s3\"\n[mss.s3]\nbucket = \"b\"", func(c *Config) string {
			return expect(c.MSS.Backend, "s3")
		}},
		{"wait time raised to idle hold", "[migrate]\nidle_hold = \"2h\"", func(c *Config) string {
			return expect(c.Migrate.WaitTime, Duration(2*time.Hour))
		}},
		{"zero idle hold kept", "[migrate]\nidle_hold = 0\nwait_time = 30", func(c *Config) string {
			return expect(c.Migrate.IdleHold, Duration(0)) + expect(c.Migrate.WaitTime, Duration(30*time.Second))
		}},
		{"policy without * gets the built-in *", "[[purge.policy]]\nspace = \"data\"\nmin = \"10%\"", func(c *Config) string {
			return expect(c.Purge.Policies, []Policy{
				{Space: "data", Min: "10%", Max: "11%", Hold: Duration(20 * time.Hour)},
				{Space: "*", Min: "2%", Max: "3%", Hold: Duration(20 * time.Hour)},
			})
		}},
		{"size min only: max = min*1.2", "[[purge.policy]]\nspace = \"*\"\nmin = \"10g\"", func(c *Config) string {
			return expect(c.Purge.Policies[0].Max, "12g")
		}},
		{"percent max capped at 100", "[[purge.policy]]\nspace = \"*\"\nmin = \"100%\"", func(c *Config) string {
			return expect(c.Purge.Policies[0].Max, "100%")
		}},
		{"explicit hold 0 is kept", "[[purge.policy]]\nspace = \"*\"\nhold = \"5h\"\n[[purge.policy]]\nspace = \"x\"\nhold = 0", func(c *Config) string {
			return expect(c.PolicyFor("x").Hold, Duration(0))
		}},
		{"nopurge * inherited", "[[purge.policy]]\nspace = \"*\"\nnopurge = true\n[[purge.policy]]\nspace = \"x\"\nhold = 1", func(c *Config) string {
			return expect(c.PolicyFor("x").NoPurge, true)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.toml), "t.toml", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(c); msg != "" {
				t.Error(msg)
			}
			roundTrip(t, c)
		})
	}
}

func expect(got, want any) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	return "got " + strings.TrimSpace(sprint(got)) + ", want " + strings.TrimSpace(sprint(want)) + "; "
}

func sprint(v any) string { return fmt.Sprintf("%+v", v) }

func TestUnknownKey(t *testing.T) {
	tests := []struct {
		toml string
		want string
	}{
		{"site = \"x\"\n\n[transfer]\ncopy_max = 2\ncopymax = 3\n", `frm.toml:5: unknown key "transfer.copymax"`},
		{"bogus = 1\n", `frm.toml:1: unknown key "bogus"`},
		{"[[space]]\nname = \"a\"\n[[space.partitions]]\npath = \"/a\"\nsize = 3\n", `frm.toml:5: unknown key "space.partitions.size"`},
		{"[nosuch]\nx = 1\n", `frm.toml:1: unknown key "nosuch"`},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.toml), "frm.toml", "", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want %q", tc.toml, err, tc.want)
		}
	}
}

func TestTOMLDecodeErrors(t *testing.T) {
	tests := []struct {
		toml string
		want string
	}{
		{"[transfer]\nqcheck = \"soon\"\n", `frm.toml:2: transfer.qcheck: invalid duration "soon"`},
		{"[[space]]\nname = \"a\"\n[[space.partitions]]\npath = \"/a\"\ncap = \"lots\"\n", `frm.toml:5: space.partitions.cap: invalid size "lots"`},
		{"site = \n", `frm.toml:1:`},
		{"[transfer]\ncopy_max = \"two\"\n", `frm.toml:2: transfer.copy_max: incompatible types`},
		{"[transfer]\nqcheck = 1.5\n", `frm.toml:2: transfer.qcheck: invalid duration 1.5`},
		{"[transfer]\ndeny = -5\n", `frm.toml:2: transfer.deny: invalid duration -5: negative`},
		{"[[space]]\nname = \"a\"\n[[space.partitions]]\npath = \"/a\"\ncap = -1\n", `frm.toml:5: space.partitions.cap: invalid size -1: negative`},
		{"[[export]]\npath = 5\n", `frm.toml:2: export.path: incompatible types`},
		// The decoder quotes the rest of the line, newline included: the
		// message stays on one line.
		{"[transfer]\nqcheck = 0b\n", `frm.toml:2: transfer.qcheck: not a binary number: '0b\n'`},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.toml), "frm.toml", "", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) error = %q, want one line with %q", tc.toml, err, tc.want)
		}
	}
}

func TestValidationErrors(t *testing.T) {
	space := func(name, p string) string {
		return "[[space]]\nname = \"" + name + "\"\n[[space.partitions]]\npath = \"" + p + "\"\n"
	}
	tests := []struct {
		name string
		toml string
		want string
	}{
		{"relative local root", `local_root = "ns"`, `frm.toml: local_root: must be absolute`},
		{"relative remote root", `remote_root = "mss"`, `frm.toml: remote_root: must be absolute`},
		{"url remote root ok with command", "remote_root = \"root://host//mss\"\n[mss]\ncopy_out = [\"/bin/x\"]", ""},
		{"relative admin path", `admin_path = "admin"`, `admin_path: must be absolute`},
		{"relative export", "[[export]]\npath = \"store\"", `frm.toml: export[0].path: must be absolute`},
		{"unclean export", "[[export]]\npath = \"/a/../b\"", `export[0].path: must be a clean path`},
		{"duplicate export", "[[export]]\npath = \"/a\"\n[[export]]\npath = \"/a/\"", `export[1].path: /a is already exported`},
		{"noxattrs with mig", "[[export]]\npath = \"/a\"\nmig = true\nnoxattrs = true", `export[0]: noxattrs cannot be combined`},
		{"bad space name", space("bad name", "/a"), `space[0].name: invalid space name "bad name"`},
		{"long space name", space(strings.Repeat("x", 64), "/a"), `space[0].name: invalid space name`},
		{"duplicate space", space("a", "/a") + space("a", "/b"), `space[1].name: space "a" is already defined`},
		{"relative partition", space("a", "/a") + space("b", "rel"), `frm.toml: space[1].partitions[0].path: must be absolute`},
		{"duplicate partition", space("a", "/a") + "[[space.partitions]]\npath = \"/a/\"\n", `space[0].partitions[1].path: /a is already listed`},
		{"space without partitions", "[[space]]\nname = \"a\"\npartitions = []", `space[0].partitions: space "a" has no partitions`},
		{"bad backend", "[mss]\nbackend = \"tape\"", `mss.backend: must be posix, command or s3`},
		{"posix without root", "[mss]\nbackend = \"posix\"", `mss.backend: posix needs remote_root`},
		{"command without commands", "[mss]\nbackend = \"command\"", `mss.backend: command needs copy_in`},
		{"relative copy program", "[mss]\ncopy_in = [\"cp\", \"$SRC\", \"$DST\"]", `mss.copy_in: program must be an absolute path: "cp"`},
		{"s3 without bucket", "[mss]\nbackend = \"s3\"", `mss.s3.bucket: must be set`},
		{"relative rename program", "[mss]\ncopy_in = [\"/bin/cp\"]\nrename_cmd = [\"mssmv\", \"$SRC\", \"$DST\"]", `mss.rename_cmd: program must be an absolute path: "mssmv"`},
		{"rename_cmd with posix", "remote_root = \"/mss\"\n[mss]\nrename_cmd = [\"/bin/mssmv\"]", `mss.rename_cmd: only the command backend runs a rename command (posix renames by itself)`},
		{"rename_cmd with command", "[mss]\ncopy_in = [\"/bin/cp\"]\nrename_cmd = [\"/bin/mssmv\", \"$SRC\", \"$DST\"]", ""},
		{"copy_max 0", "[transfer]\ncopy_max = 0", `transfer.copy_max: must be at least 1`},
		{"negative retries", "[transfer]\nretries = -1", `transfer.retries: must not be negative`},
		{"bad catalog", "[catalog]\nkind = \"sqlite\"", `catalog.kind: must be embedded or postgres`},
		{"postgres without dsn is fine", "[catalog]\nkind = \"postgres\"", ""},
		{"bad checksum", "[checksum]\ndefault = \"sha1\"", `checksum.default: unsupported algorithm "sha1"`},
		{"min >= max", "[[purge.policy]]\nspace = \"*\"\nmin = \"10%\"\nmax = \"5%\"", `purge.policy[0]: min must be < max`},
		{"mixed watermark types", "[[purge.policy]]\nspace = \"*\"\nmin = \"10%\"\nmax = \"5g\"", `purge.policy[0]: min and max must both be percentages or both sizes`},
		{"bad watermark", "[[purge.policy]]\nspace = \"*\"\nmin = \"ten\"", `purge.policy[0].min: invalid watermark "ten"`},
		{"max without min", "[[purge.policy]]\nspace = \"x\"\nmax = \"5%\"", `purge.policy[0].min: must be set`},
		{"duplicate policy", "[[purge.policy]]\nspace = \"x\"\n[[purge.policy]]\nspace = \"x\"", `purge.policy[1].space: space "x" already has a policy (purge.policy[0])`},
		{"bad policy space", "[[purge.policy]]\nspace = \"a b\"", `purge.policy[0].space: invalid space name`},
		{"polprog policy without program", "[[purge.policy]]\nspace = \"*\"\npolprog = true", `purge.policy[0].polprog: needs purge.polprog`},
		{"bad polprog var", "[purge]\npolprog = [\"/p\"]\npolprog_vars = [\"color\"]", `purge.polprog_vars[0]: unknown variable "color"`},
		{"bad instance", `instance = "a/b"`, `instance: invalid instance name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.toml), "frm.toml", "", nil)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := Default()
	c.Source = "x.toml"
	c.LocalRoot = "rel"
	c.Transfer.CopyMax = 0
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "x.toml: local_root") || !strings.Contains(err.Error(), "x.toml: transfer.copy_max") {
		t.Fatalf("Validate() = %v, want both problems", err)
	}
}

func TestWriteTOMLRedacts(t *testing.T) {
	c := Default()
	c.MSS.Backend = "s3"
	c.MSS.S3 = S3{Endpoint: "s3.example.org", Bucket: "b", AccessKey: "AKIA", SecretKey: "s3cr3t", PartSize: 64 << 20}
	c.Catalog = Catalog{Kind: "postgres", DSN: "postgres://frm:hunter2@db/frm?sslmode=disable"}
	var buf bytes.Buffer
	if err := c.WriteTOML(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, secret := range []string{"s3cr3t", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("WriteTOML leaks %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`secret_key = "REDACTED"`, `frm:REDACTED@db`, `access_key = "AKIA"`, `part_size = "64m"`} {
		if !strings.Contains(out, want) {
			t.Errorf("WriteTOML output lacks %q:\n%s", want, out)
		}
	}
	if c.MSS.S3.SecretKey != "s3cr3t" {
		t.Error("WriteTOML modified the Config")
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"postgres://frm@db/frm", "postgres://frm@db/frm"},
		{"postgres://frm:pw@db:5432/frm?sslmode=require", "postgres://frm:REDACTED@db:5432/frm?sslmode=require"},
		{"postgres://db/frm?password=pw&user=frm", "postgres://db/frm?password=REDACTED&user=frm"},
		{"host=db user=frm password=pw dbname=frm", "host=db user=frm password=REDACTED dbname=frm"},
		{"host=db password='p w' dbname=frm", "host=db password=REDACTED dbname=frm"},
		{"host=db PASSWORD = pw", "host=db PASSWORD = REDACTED"},
		{"host=db user=frm", "host=db user=frm"},
	}
	for _, tc := range tests {
		if got := RedactDSN(tc.in); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	flag := writeFile(t, dir, "flag.toml", "")
	env := writeFile(t, dir, "env.toml", "")
	dflt := writeFile(t, dir, "etc/frm.toml", "")
	missing := filepath.Join(dir, "missing.toml")
	old := defaultConfigPath
	t.Cleanup(func() { defaultConfigPath = old })

	tests := []struct {
		name, flag, env, dflt string
		want                  string
		wantErr               string
	}{
		{"flag wins", flag, env, dflt, flag, ""},
		{"env next", "", env, dflt, env, ""},
		{"default last", "", "", dflt, dflt, ""},
		{"missing flag", missing, env, dflt, "", "missing.toml (-c)"},
		{"missing env", "", missing, dflt, "", "missing.toml ($FRM_CONFIG)"},
		{"missing default", "", "", missing, "", "no configuration file found; tried " + missing + " (default)"},
		{"directory", dir, "", dflt, "", "is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvConfig, tc.env)
			defaultConfigPath = tc.dflt
			got, err := Find(tc.flag)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Find = %q, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Find = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestAdminAndQueueDir(t *testing.T) {
	tests := []struct {
		name     string
		admin    string
		instance string
		env      string
		qpath    string
		wantA    string
		wantQ    string
	}{
		{"plain", "/srv/admin", "", "", "", "/srv/admin/frm", "/srv/admin/frm/Queues"},
		{"instance", "/srv/admin/", "inst1", "", "", "/srv/admin/inst1/frm", "/srv/admin/inst1/frm/Queues"},
		{"env is instance qualified", "", "inst1", "/var/adm/inst1", "", "/var/adm/inst1/frm", "/var/adm/inst1/frm/Queues"},
		{"tmp", "", "", "", "", "/tmp/frm", "/tmp/frm/Queues"},
		{"tmp instance", "", "i2", "", "", "/tmp/i2/frm", "/tmp/i2/frm/Queues"},
		{"anon is none", "/a", "anon", "", "", "/a/frm", "/a/frm/Queues"},
		{"qcheck path", "/a", "", "", "/q", "/a/frm", "/q/Queues"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XRDADMINPATH", tc.env)
			c := &Config{AdminPath: tc.admin, Instance: tc.instance, Transfer: Transfer{QueuePath: tc.qpath}}
			if got := c.AdminDir(); got != tc.wantA {
				t.Errorf("AdminDir = %q, want %q", got, tc.wantA)
			}
			if got := c.QueueDir(); got != tc.wantQ {
				t.Errorf("QueueDir = %q, want %q", got, tc.wantQ)
			}
		})
	}
}

func TestExportFor(t *testing.T) {
	c := &Config{Exports: []Export{
		{Path: "/store", Mig: true},
		{Path: "/store/local/", Purge: true},
		{Path: "/data"},
	}}
	tests := []struct {
		lfn  string
		want string
		ok   bool
	}{
		{"/store", "/store", true},
		{"/store/x", "/store", true},
		{"/store/x/y", "/store", true},
		{"/storex", "", false},
		{"/store/local", "/store/local/", true},
		{"/store/local/f", "/store/local/", true},
		{"/store/localx", "/store", true},
		{"/data/a", "/data", true},
		{"/other", "", false},
		{"", "", false},
		{"store/x", "", false},
	}
	for _, tc := range tests {
		e, ok := c.ExportFor(tc.lfn)
		if ok != tc.ok || e.Path != tc.want {
			t.Errorf("ExportFor(%q) = %q, %v; want %q, %v", tc.lfn, e.Path, ok, tc.want, tc.ok)
		}
	}
	root := &Config{Exports: []Export{{Path: "/", Stage: true}, {Path: "/a"}}}
	if e, ok := root.ExportFor("/b/c"); !ok || e.Path != "/" {
		t.Errorf("root export: got %q %v", e.Path, ok)
	}
	if e, ok := root.ExportFor("/a/c"); !ok || e.Path != "/a" {
		t.Errorf("nested under root: got %q %v", e.Path, ok)
	}
}

func TestSpaceAndPolicyFor(t *testing.T) {
	c, err := Parse([]byte(`
[[space]]
name = "public"
[[space.partitions]]
path = "/p"
[[space]]
name = "fast"
[[space.partitions]]
path = "/f"
[[purge.policy]]
space = "*"
min = "4%"
max = "8%"
[[purge.policy]]
space = "fast"
nopurge = true
`), "t.toml", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := c.Space("fast"); !ok || s.Name != "fast" || s.Partitions[0].Path != "/f" {
		t.Errorf("Space(fast) = %+v, %v", s, ok)
	}
	if _, ok := c.Space("nope"); ok {
		t.Error("Space(nope) found")
	}
	if p := c.PolicyFor("fast"); !p.NoPurge || p.Space != "fast" {
		t.Errorf("PolicyFor(fast) = %+v", p)
	}
	if p := c.PolicyFor("public"); p.Space != "*" || p.Min != "4%" || p.Max != "8%" || p.Hold != Duration(20*time.Hour) {
		t.Errorf("PolicyFor(public) = %+v", p)
	}
	var empty Config
	if p := empty.PolicyFor("x"); !reflect.DeepEqual(p, DefaultPolicy()) {
		t.Errorf("PolicyFor on empty config = %+v", p)
	}
}

func TestExampleLoads(t *testing.T) {
	c, err := Load("../../examples/frm.toml", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Spaces) != 3 || c.Spaces[0].Name != "public" || c.Spaces[1].Name != "data" || c.Spaces[2].Name != "fast" {
		t.Errorf("example spaces = %+v", c.Spaces)
	}
	for _, s := range c.Spaces {
		if len(s.Partitions) != 2 || !strings.HasPrefix(s.Partitions[0].Path, "/srv/frm/spaces/") {
			t.Errorf("example space %s partitions = %+v", s.Name, s.Partitions)
		}
	}
	if e, ok := c.ExportFor("/store/f"); !ok || !e.Mig || !e.Stage || !e.Purge {
		t.Errorf("example /store = %+v, %v", e, ok)
	}
	if e, ok := c.ExportFor("/scratch/f"); !ok || e.Mig || e.Stage || e.Purge {
		t.Errorf("example /scratch = %+v, %v", e, ok)
	}
	if c.MSS.Backend != "posix" || c.RemoteRoot == "" {
		t.Errorf("example MSS = %+v root %q", c.MSS, c.RemoteRoot)
	}
	if !c.PolicyFor("fast").NoPurge || c.PolicyFor("data").Min != "200g" {
		t.Errorf("example policies = %+v", c.Purge.Policies)
	}
	roundTrip(t, c)
}

// TestMultihostExamplesLoad: the per-role examples of docs/multihost.md
// are valid configurations with a PostgreSQL catalog.
func TestMultihostExamplesLoad(t *testing.T) {
	files, _ := filepath.Glob("../../examples/multihost/*.toml")
	if len(files) < 3 {
		t.Fatalf("role examples: %v", files)
	}
	for _, f := range files {
		c, err := Load(f, "")
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		// No password in an example: it belongs in ~/.pgpass.
		if c.Catalog.Kind != "postgres" || c.Catalog.DSN == "" || RedactDSN(c.Catalog.DSN) != c.Catalog.DSN {
			t.Errorf("%s: catalog %+v", f, c.Catalog)
		}
		roundTrip(t, c)
	}
}

func TestCatalogSettings(t *testing.T) {
	for _, c := range []struct {
		toml, err string
		lease     time.Duration
	}{
		{"[catalog]\nkind = \"postgres\"\nlease = \"90s\"\nmax_conns = 6\nstatement_timeout = \"5s\"\n", "", 90 * time.Second},
		{"[catalog]\nkind = \"postgres\"\n", "", 60 * time.Second},
		{"[catalog]\nlease = \"1s\"\n", "catalog.lease", 0},
		{"[catalog]\nmax_conns = -1\n", "catalog.max_conns", 0},
		{"[catalog]\nstatement_timeout = \"soon\"\n", "statement_timeout", 0},
	} {
		p := filepath.Join(t.TempDir(), "frm.toml")
		os.WriteFile(p, []byte(c.toml), 0o644)
		cfg, err := Load(p, "")
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one naming %s", c.toml, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.toml, err)
			continue
		}
		if got := cfg.Catalog.LeaseOrDefault(); got != c.lease {
			t.Errorf("%q: lease %v, want %v", c.toml, got, c.lease)
		}
	}
}
