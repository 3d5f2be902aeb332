package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"frm/daemons"
)

// unitFile is a parsed systemd unit: section -> key -> values, in order
// (a key may be given several times).
type unitFile map[string]map[string][]string

// parseUnit reads the systemd.syntax(7) subset the example units use:
// [Section] headers, Key=Value lines, # and ; comments, and lines
// continued with a trailing backslash.
func parseUnit(text string) (unitFile, error) {
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cont string
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cont != "" {
			line, cont = cont+" "+line, ""
		}
		if strings.HasSuffix(line, `\`) {
			cont = strings.TrimSuffix(line, `\`)
			continue
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, &unitError{n, "bad section header " + line}
			}
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.TrimSpace(k) == "" {
				return nil, &unitError{n, "not Key=Value in a section: " + line}
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u, sc.Err()
}

type unitError struct {
	line int
	msg  string
}

func (e *unitError) Error() string { return "line " + strconv.Itoa(e.line) + ": " + e.msg }

// get is the last value of key in section ("" if none).
func (u unitFile) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// execArgs splits an Exec line as systemd does for the example units:
// words, %i replaced by inst, $VAR replaced by the words of env[VAR]
// (zero words when unset).
func execArgs(line, inst string, env map[string]string) []string {
	var out []string
	for _, w := range strings.Fields(line) {
		w = strings.ReplaceAll(w, "%i", inst)
		if strings.HasPrefix(w, "$") && !strings.HasPrefix(w, "${") {
			out = append(out, strings.Fields(env[w[1:]])...)
			continue
		}
		out = append(out, w)
	}
	return out
}

// daemonOptsExamples are the FRM_DAEMON_OPTS the unit's comment and
// docs/daemons.md give.
var daemonOptsExamples = []string{"", "-only purge", "-metrics 127.0.0.1:9797", "-drain 120s", "-d", "-only stage,migrate -metrics 127.0.0.1:9797"}

// TestSystemdUnits: the example units work together. Each ExecStart runs
// frm with arguments frm accepts (for every documented $FRM_DAEMON_OPTS),
// no unit hides /tmp (the default admin directory) from the rest of the
// site, and no two units that may run at once take the same lock (the
// purge-only unit beside frm-daemon@ on the same instance could not).
// systemd-analyze verify checks them too where it is installed.
func TestSystemdUnits(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "examples", "systemd", "*"))
	if len(files) == 0 {
		t.Fatal("no example units")
	}
	type lockUser struct{ unit, lock string }
	var locks []lockUser
	units := map[string]unitFile{}
	for _, f := range files {
		name := filepath.Base(f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u, err := parseUnit(string(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		units[name] = u
		for _, k := range []string{"PrivateTmp"} {
			if v := strings.ToLower(u.get("Service", k)); v == "yes" || v == "true" || v == "on" || v == "1" {
				admin := ""
				for _, e := range u["Service"]["Environment"] {
					if a, ok := strings.CutPrefix(e, "XRDADMINPATH="); ok {
						admin = a
					}
				}
				if admin == "" || strings.HasPrefix(admin, "/tmp/") || admin == "/tmp" {
					t.Errorf("%s: %s=%s hides the admin directory in /tmp (queues, socket, locks) from frm pstga, xrootd and frm admin", name, k, v)
				}
			}
		}
		exec := u.get("Service", "ExecStart")
		if exec == "" {
			t.Errorf("%s: no ExecStart", name)
			continue
		}
		for _, opts := range daemonOptsExamples {
			args := execArgs(exec, "test", map[string]string{"FRM_DAEMON_OPTS": opts})
			if !filepath.IsAbs(args[0]) || filepath.Base(args[0]) != "frm" {
				t.Errorf("%s: ExecStart runs %q, not an absolute path to frm", name, args[0])
				continue
			}
			// The command's own flag parsing decides: -h after the
			// arguments exits 0 only when every flag before it is valid.
			code, _, errs := runCLI(t, "", append(append([]string{"frm"}, args[1:]...), "-h")...)
			if code != 0 {
				t.Errorf("%s with FRM_DAEMON_OPTS=%q: frm refuses %q: exit %d %s", name, opts, args[1:], code, errs)
			}
			if len(args) > 1 && args[1] == "daemon" {
				for i, a := range args {
					if a == "-only" && i+1 < len(args) {
						for _, c := range strings.Split(args[i+1], ",") {
							if !slices.Contains(daemons.Components, c) {
								t.Errorf("%s: -only %s: no component %q", name, args[i+1], c)
							}
						}
					}
				}
				// Every frm daemon of an instance takes
				// <admin>/frm_daemon.lock, whatever its components.
				locks = append(locks, lockUser{name, "frm_daemon.lock of instance %i"})
			}
		}
		if !strings.Contains(strings.Join(u["Service"]["ExecReload"], " "), "-HUP $MAINPID") && strings.Contains(exec, " daemon") {
			t.Errorf("%s: the daemon re-reads its configuration on SIGHUP; ExecReload should send it", name)
		}
	}
	seen := map[string]string{}
	for _, l := range locks {
		if other, ok := seen[l.lock]; ok && other != l.unit {
			conflicts := strings.Fields(strings.Join(units[l.unit]["Unit"]["Conflicts"], " ") + " " + strings.Join(units[other]["Unit"]["Conflicts"], " "))
			if !slices.Contains(conflicts, strings.TrimSuffix(other, ".service")+"%i.service") && !slices.Contains(conflicts, strings.TrimSuffix(l.unit, ".service")+"%i.service") {
				t.Errorf("%s and %s both take %s: the second one to start fails", other, l.unit, l.lock)
			}
		}
		seen[l.lock] = l.unit
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: units checked by the parser above only")
	}
	dir := t.TempDir()
	var paths []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		// verify wants the programs to exist; /bin/true stands for frm.
		text := strings.ReplaceAll(string(b), "/usr/local/bin/frm", "/bin/true")
		p := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...)
	out, err := cmd.CombinedOutput()
	// verify exits 0 on mere warnings (an unknown key): any word about
	// our units is a failure.
	if err != nil || strings.Contains(string(out), dir) || strings.Contains(string(out), "frm-") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func FuzzParseUnit(f *testing.F) {
	f.Add("[Service]\nExecStart=/bin/frm daemon \\\n -n %i\n# c\n; c\n")
	f.Add("[Unit\nx=1\n")
	f.Add("key=value\n")
	f.Fuzz(func(t *testing.T, text string) {
		u, err := parseUnit(text)
		if err != nil {
			return
		}
		for s, keys := range u {
			for k := range keys {
				if strings.TrimSpace(k) == "" || s == "" {
					t.Fatalf("empty key or section from %q", text)
				}
			}
		}
	})
}
