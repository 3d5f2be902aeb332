package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"

	"frm/shell"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -run %s -update rewrites it after a change to the registry):\n%s", p, t.Name(), got)
	}
}

// TestCompletionScripts: each script is the golden one, parses in its
// shell (where installed), and names every subcommand of frm, every
// admin command with its options and type words.
func TestCompletionScripts(t *testing.T) {
	for sh, gen := range completionShells {
		t.Run(sh, func(t *testing.T) {
			code, script, errs := runCLI(t, "", "frm", "completion", sh)
			if code != 0 || script != gen() {
				t.Fatalf("frm completion %s: exit %d %s", sh, code, errs)
			}
			golden(t, "completion."+sh, script)
			var missing []string
			need := func(w string) {
				if !strings.Contains(script, w) {
					missing = append(missing, w)
				}
			}
			for _, c := range topCommands {
				need(c.name)
				for _, f := range c.flags {
					need(strings.TrimLeft(f.name, "-"))
				}
				for _, s := range c.subs {
					need(s)
				}
			}
			for _, c := range shell.Commands() {
				need(c.Name)
				if sh == "fish" {
					for _, p := range c.Prefixes() {
						need(fishQuote(p))
					}
				} else {
					need(strings.Join(c.Prefixes(), "|"))
				}
				for _, o := range c.Options {
					need(o.Name)
				}
				for _, s := range c.Subwords {
					need(s)
				}
			}
			if len(missing) > 0 {
				t.Errorf("the %s script lacks %q", sh, missing)
			}
			p := filepath.Join(t.TempDir(), "frm."+sh)
			os.WriteFile(p, []byte(script), 0o644)
			bin, err := exec.LookPath(sh)
			if err != nil {
				t.Skipf("%s not installed: syntax not checked", sh)
			}
			if out, err := exec.Command(bin, "-n", p).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", sh, err, out)
			}
		})
	}
	if code, _, errs := runCLI(t, "", "frm", "completion", "tcsh"); code != 2 || !strings.Contains(errs, `no completion for "tcsh"`) {
		t.Errorf("tcsh: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, "", "frm", "completion"); code != 2 {
		t.Errorf("no shell: %d", code)
	}
}

// completionCases are command lines (the cursor at the end) and the
// candidates every shell must offer for them (a subset: files and the
// shell's own additions may come too), or none.
var completionCases = []struct {
	line string
	want []string
	none bool
}{
	{line: "frm ", want: []string{"admin", "daemon", "config", "completion", "man", "version"}},
	{line: "frm da", want: []string{"daemon"}},
	{line: "frm admin ", want: []string{"audit", "find", "df", "purge", "status"}},
	{line: "frm admin fi", want: []string{"find"}},
	{line: "frm admin -", want: []string{"-c", "-o", "--json"}},
	{line: "frm admin -o ", want: []string{"text", "json"}},
	{line: "frm admin f -", want: []string{"-recursive"}},
	{line: "frm admin find ", want: []string{"unmigrated", "pinned", "badchksum"}},
	{line: "frm admin -c x.toml audit ", want: []string{"names", "space", "usage", "catalog"}},
	{line: "frm admin audit names ", none: true},
	{line: "frm admin pin -k ", none: true},
	{line: "frm admin purge -", want: []string{"-dry-run", "-force", "-O"}},
	{line: "frm_admin q ", want: []string{"pfn", "rfn", "xfrq"}},
	{line: "frm config ", want: []string{"show", "check", "convert"}},
	{line: "frm daemon -", want: []string{"-only", "-l", "-log-format", "-metrics"}},
	{line: "frm daemon -only ", want: []string{"stage", "purge"}},
	{line: "frm completion ", want: []string{"bash", "zsh", "fish"}},
	{line: "frm db ", want: []string{"init", "migrate", "status"}},
	{line: "frm agent -", want: []string{"-c", "-n"}},
}

// TestCompletionBehaviour runs each script in its shell on
// completionCases.
func TestCompletionBehaviour(t *testing.T) {
	dir := t.TempDir() // the scripts' file candidates come from here: none
	run := map[string]func(t *testing.T, bin, script, line string) []string{
		"bash": func(t *testing.T, bin, script, line string) []string {
			words := strings.Fields(line)
			if strings.HasSuffix(line, " ") {
				words = append(words, "")
			}
			var q []string
			for _, w := range words {
				q = append(q, "'"+w+"'")
			}
			prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(q, " ") + ")\nCOMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n_frm\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
			return shellLines(t, dir, bin, "-c", prog)
		},
		"zsh": func(t *testing.T, bin, script, line string) []string {
			words := strings.Fields(line)
			if strings.HasSuffix(line, " ") {
				words = append(words, "")
			}
			var q []string
			for _, w := range words {
				q = append(q, "'"+w+"'")
			}
			// The shared logic, as _frm calls it; zsh's compadd then
			// keeps the candidates the current word begins.
			prog := "source " + script + "\nfor c in \"${(@f)$(__frm_complete " + strconv.Itoa(len(words)-1) + " " + strings.Join(q, " ") + ")}\"; do [[ $c == " + q[len(q)-1] + "* ]] && print -r -- $c; done\ntrue\n"
			return shellLines(t, dir, bin, "-c", prog)
		},
		"fish": func(t *testing.T, bin, script, line string) []string {
			out := shellLines(t, dir, bin, "-c", "source "+script+"; complete -C '"+line+"'")
			for i, l := range out {
				out[i], _, _ = strings.Cut(l, "\t")
			}
			return out
		},
	}
	for sh, gen := range completionShells {
		t.Run(sh, func(t *testing.T) {
			bin, err := exec.LookPath(sh)
			if err != nil {
				t.Skipf("%s not installed", sh)
			}
			script := filepath.Join(t.TempDir(), "frm."+sh)
			os.WriteFile(script, []byte(gen()), 0o644)
			for _, tc := range completionCases {
				got := run[sh](t, bin, script, tc.line)
				if tc.none && len(got) > 0 {
					t.Errorf("%q: %q, want nothing", tc.line, got)
				}
				for _, w := range tc.want {
					if !slices.Contains(got, w) {
						t.Errorf("%q: %q lacks %q", tc.line, got, w)
					}
				}
			}
		})
	}
}

// shellLines runs a shell in dir and returns its non-empty output lines.
func shellLines(t *testing.T, dir, bin string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestManPages: the pages are the golden ones, one per subcommand, every
// admin command in frm-admin(1), groff finds nothing to warn about, and
// frm man writes or prints them.
func TestManPages(t *testing.T) {
	pages := manPages("test")
	for _, c := range topCommands {
		if c.name == "version" {
			continue
		}
		if _, ok := pages["frm-"+c.name+".1"]; !ok {
			t.Errorf("no page for frm %s", c.name)
		}
		if !strings.Contains(pages["frm.1"], `\fBfrm\-`+strings.ReplaceAll(c.name, "-", `\-`)+`\fR(1)`) {
			t.Errorf("frm(1) does not refer to frm-%s(1)", c.name)
		}
	}
	for _, c := range shell.Commands() {
		if !strings.Contains(pages["frm-admin.1"], ".SS "+c.Name+"\n") {
			t.Errorf("frm-admin(1) lacks %s", c.Name)
		}
	}
	groff, _ := exec.LookPath("groff")
	for _, n := range pageNames(pages) {
		golden(t, filepath.Join("man", n), pages[n])
		if groff == "" {
			continue
		}
		cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = strings.NewReader(pages[n])
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff on %s: %v\n%s", n, err, out)
		}
	}
	if groff == "" {
		t.Log("groff not installed: pages not rendered")
	}

	dir := t.TempDir()
	code, out, errs := runCLI(t, "", "frm", "man", dir)
	if code != 0 || strings.Count(out, "\n") != len(pages) {
		t.Fatalf("frm man DIR: %d %q %s", code, out, errs)
	}
	for n := range pages {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Error(err)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
		errs string
	}{
		{[]string{}, 0, ".TH FRM 1", ""},
		{[]string{"admin"}, 0, ".TH FRM\\-ADMIN 1", ""},
		{[]string{"frm-daemon"}, 0, ".TH FRM\\-DAEMON 1", ""},
		{[]string{"frm-daemon.1"}, 0, ".TH FRM\\-DAEMON 1", ""},
		{[]string{"nosuch"}, 2, "", "frm man: nosuch is neither a page"},
		{[]string{filepath.Join(dir, "frm.1")}, 2, "", "is not a directory"},
		{[]string{"a", "b"}, 2, "", "one directory or page at most"},
	} {
		code, out, errs := runCLI(t, "", append([]string{"frm", "man"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errs, tc.errs) {
			t.Errorf("frm man %q: %d\n%s\n%s", tc.args, code, out, errs)
		}
	}
}

// TestTopFlagsAreReal: the options completion offers are options the
// subcommands accept (and their usage texts name).
func TestTopFlagsAreReal(t *testing.T) {
	for _, c := range topCommands {
		for _, f := range c.flags {
			if f.name != "-h" && !strings.Contains(c.usage, f.name) {
				t.Errorf("frm %s: %s is not in the usage text", c.name, f.name)
			}
			args := []string{"frm", c.name}
			if len(c.subs) > 0 {
				args = append(args, c.subs[0])
			}
			args = append(args, f.name)
			if f.value != "" {
				v := "x"
				if ch := f.choices(); ch != nil {
					v = ch[0]
				}
				switch {
				case f.name == "-drain" || f.value == "DURATION":
					v = "1s"
				case f.name == "-files" || f.name == "-seed" || f.name == "-k" || f.value == "N":
					v = "1"
				}
				args = append(args, v)
			}
			if f.name != "-h" {
				args = append(args, "-h")
			}
			if code, _, errs := runCLI(t, "", args...); code != 0 {
				t.Errorf("%q: exit %d %s", args, code, errs)
			}
		}
	}
}

// TestVersion: a version given at build time wins; without one, what go
// recorded: the module version, else the commit (-dirty when the tree
// had changes), else "dev".
func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"go install", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"go build in a checkout", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}}, "dev-0123456789ab"},
		{"with changes", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}, "dev-0123456789ab-dirty"},
		{"nothing recorded", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"pseudo-version of a checkout", debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261206134059-0123456789ab+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}, "dev-0123456789ab-dirty"},
	} {
		if got := buildVersion(&tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	old := version
	version = "1.2.3"
	code, out, _ := runCLI(t, "", "frm", "--version")
	version = old
	if code != 0 || out != "frm 1.2.3\n" {
		t.Errorf("-ldflags version: %d %q", code, out)
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	// A plain go build (no -ldflags), VCS stamping asked for whatever
	// GOFLAGS says: the version is what the binary's build information
	// holds, as go version -m reads it.
	bin := filepath.Join(t.TempDir(), "frm")
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "frm dev"
	var rev, modified string
	for _, l := range strings.Split(string(info), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == "build" {
			k, v, _ := strings.Cut(f[1], "=")
			switch k {
			case "vcs.revision":
				rev = v
			case "vcs.modified":
				modified = v
			}
		}
	}
	if rev != "" {
		want = "frm dev-" + rev[:12]
		if modified == "true" {
			want += "-dirty"
		}
	} else {
		t.Log("go recorded no commit (not a git checkout, a git worktree, or git missing): expecting frm dev")
	}
	got, err := exec.Command(bin, "--version").Output()
	if err != nil || strings.TrimSpace(string(got)) != want {
		t.Errorf("--version: %q %v, want %q", got, err, want)
	}
}
