package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"frm/core/sitegen/sitetest"

	"frm/core/config"
	"frm/core/meta"
	"frm/core/site"
	"frm/core/sitegen"
	"frm/core/wire"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testSite makes a small site: /store (mig stage purge) with three files in
// the states find and audit care about, and /scratch/d with two files.
func testSite(t *testing.T) (*site.Site, sitegen.Layout) {
	t.Helper()
	s, l := sitetest.Open(t, nil)
	ctx := context.Background()
	mt := time.Unix(1700000000, 0)
	for _, f := range []struct{ lfn, space string }{
		{"/store/a/migrated.fits", "data"}, {"/store/a/modified.fits", ""}, {"/store/a/nocopy.fits", "fast"},
		{"/scratch/d/one.tar", ""}, {"/scratch/d/two.tar", ""},
	} {
		pfn, err := s.Place(ctx, f.lfn, f.space, strings.NewReader("content of "+f.lfn), 100)
		if err != nil {
			t.Fatal(err)
		}
		os.Chtimes(pfn, mt, mt)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			if errorsIsNotSupported(err) {
				t.Skip("no user xattrs on this filesystem")
			}
			t.Fatal(err)
		}
	}
	must(meta.SetCopyTime(s.PFN("/store/a/migrated.fits"), mt.Unix()))
	must(meta.SetCopyTime(s.PFN("/store/a/modified.fits"), mt.Unix()-113))
	return s, l
}

func errorsIsNotSupported(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not supported")
}

func newShell(s *site.Site) (*Shell, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Shell{Name: "frm_admin", Out: &out, Err: &errb, Site: s}, &out, &errb
}

// norm replaces the site directory with $SITE for golden comparison.
func norm(s string, l sitegen.Layout) string { return strings.ReplaceAll(s, l.Dir, "$SITE") }

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		os.WriteFile(p, []byte(got), 0o644)
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./shell -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, p, got, want)
	}
}

func TestCommandsGolden(t *testing.T) {
	s, l := testSite(t)
	tests := []struct {
		name   string
		args   string
		status int
	}{
		{"find_unmigrated", "find -r unmigrated /store", 0},
		{"find_unmigrated_opt_after", "find unmigrated /store -r", 0},
		{"query_pfn", "query pfn /store/a/x //dbl//slash/", 0},
		{"query_space_list", "query space", 0},
		{"query_space_files", "query space -r /store", 0},
		{"help_pin", "help pin", 0},
		{"help_query", "help query", 0},
		{"invalid_command", "bogus x", ExitUsage},
		{"invalid_option", "find -zz pinned /store", ExitUsage},
		{"escape_root", "query pfn /a/../../etc/passwd", ExitError},
		{"missing_type", "find", ExitUsage},
		{"mark_missing_file", "mark /store/a/none.fits", ExitError},
		{"rm_partial", "rm -e /scratch/d/one.tar /scratch/d/none.tar", ExitPartial},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh, out, errb := newShell(s)
			words, _ := Split(tt.args)
			st := sh.RunArgs(context.Background(), words, strings.NewReader(""))
			if st != tt.status {
				t.Errorf("status %d, want %d (stderr %q)", st, tt.status, errb.String())
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if strings.HasPrefix(tt.args, "find") || strings.HasPrefix(tt.args, "query space -r") {
				sortStrings(lines[:len(lines)-boolInt(strings.HasPrefix(tt.args, "find"))])
			}
			golden(t, tt.name, norm("stdout:\n"+strings.Join(lines, "\n")+"\nstderr:\n"+errb.String(), l))
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestJSONDocuments(t *testing.T) {
	s, _ := testSite(t)
	for _, args := range []string{"find -r unmigrated /store", "query space", "bogus", "mark /store/a/none.fits", "df", "ls -r /store", "audit -r names /store"} {
		sh, out, _ := newShell(s)
		sh.JSON = true
		words, _ := Split(args)
		st := sh.RunArgs(context.Background(), words, strings.NewReader(""))
		var doc struct {
			Schema  int              `json:"schema"`
			Command string           `json:"command"`
			Results []map[string]any `json:"results"`
			Errors  []map[string]any `json:"errors"`
			Status  int              `json:"status"`
			Summary map[string]any   `json:"summary"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("%s: not one JSON document: %v\n%s", args, err, out.String())
		}
		if doc.Schema != JSONSchema || doc.Status != st {
			t.Errorf("%s: schema %d status %d (exit %d)", args, doc.Schema, doc.Status, st)
		}
		if args == "find -r unmigrated /store" {
			if len(doc.Results) != 2 || doc.Summary["found"] != float64(2) {
				t.Errorf("find: %+v", doc)
			}
		}
		if st != 0 && len(doc.Errors) == 0 {
			t.Errorf("%s: exit %d but no errors in JSON", args, st)
		}
	}
}

func TestBatchNeverLosesInput(t *testing.T) {
	s, _ := testSite(t)
	sh, out, errb := newShell(s)
	// rm -r asks a question; in batch mode it must take the default and
	// must not eat the following lines as answers (xrootd does: reference
	// §5, P04).
	in := "# a comment\n\nrm -r /scratch/d\ny\nquery pfn /after\n\nquery rfn /after2\n"
	st := sh.RunBatch(context.Background(), strings.NewReader(in))
	if _, err := os.Stat(s.PFN("/scratch/d/one.tar")); err != nil {
		t.Fatalf("batch mode answered a question from the input: %v", err)
	}
	if !strings.Contains(out.String(), s.PFN("/after")) || !strings.Contains(out.String(), "/after2") {
		t.Fatalf("lines after the question were lost:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "Remove EVERYTHING starting at /scratch/d? (n | y | a): n") {
		t.Errorf("question not shown: %s", errb.String())
	}
	if st != ExitUsage { // the stray "y" line is an invalid command
		t.Errorf("batch status %d, want %d", st, ExitUsage)
	}
	// -force removes without a question.
	sh, _, _ = newShell(s)
	if st := sh.RunBatch(context.Background(), strings.NewReader("rm -r -f /scratch/d\n")); st != 0 {
		t.Fatalf("rm -r -f status %d", st)
	}
	if _, err := os.Stat(s.PFN("/scratch/d")); err == nil {
		t.Fatal("rm -r -f left the directory")
	}
}

func TestBatchExitAndStatus(t *testing.T) {
	s, _ := testSite(t)
	sh, out, _ := newShell(s)
	st := sh.RunBatch(context.Background(), strings.NewReader("query pfn /x\nexit\nquery pfn /never\n"))
	if st != 0 || strings.Contains(out.String(), "never") {
		t.Fatalf("exit did not stop the batch: %d %q", st, out.String())
	}
	sh, _, _ = newShell(s)
	if st := sh.RunBatch(context.Background(), strings.NewReader("query pfn /x\nmark /store/no/such\nquery pfn /y\n")); st != ExitError {
		t.Fatalf("batch with a failed command exited %d", st)
	}
}

func TestArgvAnswersFromStdin(t *testing.T) {
	s, _ := testSite(t)
	sh, out, _ := newShell(s)
	st := sh.RunArgs(context.Background(), []string{"rm", "-r", "/scratch/d"}, strings.NewReader("y\n"))
	if st != 0 || !strings.Contains(out.String(), "2 files and 1 directory deleted.") {
		t.Fatalf("status %d out %q", st, out.String())
	}
}

func TestREPLScript(t *testing.T) {
	s, _ := testSite(t)
	sh, out, _ := newShell(s)
	lr := &scriptReader{lines: []string{"set output json", "query pfn /x", "set output text", "q rfn /y", "rm -r /scratch/d", "n", "", "query pfn /never"}}
	st := sh.RunREPL(context.Background(), lr)
	if st != 0 {
		t.Fatalf("status %d", st)
	}
	o := out.String()
	if !strings.Contains(o, `"pfn":"`) || !strings.Contains(o, "/y\n") || strings.Contains(o, "never") {
		t.Fatalf("REPL output:\n%s", o)
	}
	if _, err := os.Stat(s.PFN("/scratch/d/one.tar")); err != nil {
		t.Fatal("answer n removed files")
	}
}

func TestCompletion(t *testing.T) {
	s, _ := testSite(t)
	ctx := context.Background()
	for _, lfn := range []string{"/store/q/a b.txt", "/store/q/it's.txt", `/store/q/say "hi".txt`, "/store/q/dir x/f"} {
		if _, err := s.Place(ctx, lfn, "", strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
	sh := &Shell{Site: s}
	cases := []struct {
		line string
		want string // one of the suffixes
		name string // what the last word reads back as ("": not checked)
	}{
		{"fi", "nd", ""},
		{"find unm", "igrated", ""},
		{"find -r", "ecursive", ""},
		{"ls /sto", "re/", ""},
		{"ls /store/a/mig", "rated.fits", ""},
		{"reloc /store/a/x.fits fa", "st", ""},
		// Names with blanks and quotes, begun unquoted, quoted or escaped.
		{"ls /store/q/a", `\ b.txt`, "/store/q/a b.txt"},
		{"ls '/store/q/a", ` b.txt'`, "/store/q/a b.txt"},
		{`ls "/store/q/a`, ` b.txt"`, "/store/q/a b.txt"},
		{`ls /store/q/a\ `, `b.txt`, "/store/q/a b.txt"},
		{"ls /store/q/it", `\'s.txt`, "/store/q/it's.txt"},
		{`ls "/store/q/it`, `'s.txt"`, "/store/q/it's.txt"},
		{"ls '/store/q/it", `'\''s.txt'`, "/store/q/it's.txt"},
		{"ls /store/q/sa", `y\ \"hi\".txt`, `/store/q/say "hi".txt`},
		{`ls "/store/q/sa`, `y \"hi\".txt"`, `/store/q/say "hi".txt`},
		{"ls '/store/q/di", `r x/`, ""}, // a directory: the quote stays open
		{"ls '/store/q/dir x/", `f'`, "/store/q/dir x/f"},
	}
	for _, tc := range cases {
		got, _ := sh.Complete(tc.line)
		if !slices.Contains(got, tc.want) {
			t.Errorf("complete %q = %q, want %q among them", tc.line, got, tc.want)
			continue
		}
		if tc.name != "" {
			words, err := Split(tc.line + tc.want)
			if err != nil || words[len(words)-1] != tc.name {
				t.Errorf("%q reads back as %q (%v), want %q", tc.line+tc.want, words, err, tc.name)
			}
		}
	}
	// The palette's form: one candidate inserted, several shown whole.
	if line, c := sh.CompleteLine("ls '/store/q/it"); line != `ls '/store/q/it'\''s.txt' ` || c != nil {
		t.Errorf("CompleteLine = %q %q", line, c)
	}
	if line, c := sh.CompleteLine("m"); line != "m" || !slices.Equal(c, []string{"makelf", "mark", "mmap", "mv"}) {
		t.Errorf("CompleteLine(m) = %q %q", line, c)
	}
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		bad  bool
	}{
		{"find -r unmigrated /d", []string{"find", "-r", "unmigrated", "/d"}, false},
		{`ls "a b" 'c d'`, []string{"ls", "a b", "c d"}, false},
		{`ls a\ b c\'d`, []string{"ls", "a b", "c'd"}, false},
		{`ls "x\"y\\z\n"`, []string{"ls", `x"y\z\n`}, false},
		{`ls 'a\b'`, []string{"ls", `a\b`}, false},
		{`ls '' ""`, []string{"ls", "", ""}, false},
		{`ls 'it'\''s'`, []string{"ls", "it's"}, false},
		{"ls 'open", nil, true},
		{`ls end\`, nil, true},
	} {
		got, err := Split(tc.line)
		if (err != nil) != tc.bad || !tc.bad && !slices.Equal(got, tc.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}

func TestAbbreviations(t *testing.T) {
	for word, want := range map[string]string{"m": "mark", "ma": "mark", "mm": "mmap", "mv": "mv", "f": "find", "q": "query", "quit": "quit", "h": "help", "audit": "audit"} {
		c, ok := lookup(word)
		if !ok || c.name != want {
			t.Errorf("%q -> %v", word, c)
		}
	}
	for _, word := range []string{"aud", "e", "r", "re", "chk", "x"} {
		if c, ok := lookup(word); ok {
			t.Errorf("%q matched %s", word, c.name)
		}
	}
}

func TestParseOpts(t *testing.T) {
	specs := []optSpec{{name: "fix", min: 3}, {name: "force", min: 1}, {name: "keep", min: 1, hasValue: true}}
	o, pos, err := parseOpts([]string{"-f", "names", "-fix", "/d", "-k", "+2h"}, specs)
	if err != nil || !o.has("force") || !o.has("fix") || o.value("keep") != "+2h" || len(pos) != 2 {
		t.Fatalf("got %+v %v %v", o, pos, err)
	}
	for _, bad := range [][]string{{"-fi"}, {"-x"}, {"-"}, {"-k"}, {"-k", "-f"}} {
		if _, _, err := parseOpts(bad, specs); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	_, pos, _ = parseOpts([]string{"--", "-f"}, specs)
	if len(pos) != 1 || pos[0] != "-f" {
		t.Errorf("-- did not end options: %q", pos)
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"find -r unmigrated /d", `ls "a b"`, "'", "  x  y "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// A word quoted by Quote reads back whole, alone or after others.
		if w, err := Split("ls " + Quote(s) + " x"); err != nil || len(w) != 3 || w[1] != s {
			t.Fatalf("Quote(%q) = %q reads back as %q, %v", s, Quote(s), w, err)
		}
		words, err := Split(s)
		if err != nil {
			return
		}
		for _, w := range words {
			if w == "" && !strings.Contains(s, `""`) && !strings.Contains(s, "''") {
				t.Fatalf("empty word from %q", s)
			}
		}
	})
}

func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{"find -r unmigrated /", "pin -k +2h /a", "audit -fix -f names /", "query xfrq all lfn", "rm -r /x", "chksum -t adler32 calc /a"} {
		f.Add(s)
	}
	l := sitegen.NewLayout(f.TempDir())
	l.WriteConfigs()
	cfg, err := config.Load(l.Config, "")
	if err != nil {
		f.Fatal(err)
	}
	s, _ := wire.Open(cfg)
	f.Fuzz(func(t *testing.T, line string) {
		var out, errb bytes.Buffer
		sh := &Shell{Name: "frm_admin", Out: &out, Err: &errb, Site: s, Prompter: site.Always(site.No)}
		st := sh.execLine(context.Background(), line)
		if st < 0 || st > 4 && st != ExitInterrupted {
			t.Fatalf("%q: status %d", line, st)
		}
	})
}

// TestMvOutput: mv says what became of the MSS copies of migrated files
// (renamed, or the files marked migratable and why) and, for a
// directory, how many back references it rewrote; in text and in JSON.
func TestMvOutput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		inMSS   bool // the MSS tree holds the migrated file's copy
		args    string
		lines   []string // stdout after the "renamed to" line
		summary map[string]any
	}{
		{name: "copy renamed", inMSS: true, args: "mv /store/a/migrated.fits /store/b/moved.fits",
			lines:   []string{"Renamed in the MSS: 1 copy."},
			summary: map[string]any{"migrated": 1.0, "mss_renamed": 1.0, "remigrate": 0.0, "xrefs": 1.0}},
		{name: "copy missing in the MSS", args: "mv /store/a/migrated.fits /scratch/moved.fits",
			lines: []string{"Marked migratable: 1 file (migrated again under the new name; not purgeable until then). MSS copy not renamed: " +
				"mss posix: rename $SITE/mss/store/a/migrated.fits: lstat $SITE/mss/store/a/migrated.fits: no such file or directory",
				"Not in a mig export, so left on disk until copied to the MSS under the new name: 1 file."},
			summary: map[string]any{"migrated": 1.0, "mss_renamed": 0.0, "remigrate": 1.0, "no_mig": 1.0, "xrefs": 1.0}},
		{name: "directory", inMSS: true, args: "mv /store/a /store/z",
			lines:   []string{"Renamed in the MSS: 1 copy.", "Back references rewritten: 2."},
			summary: map[string]any{"migrated": 1.0, "mss_renamed": 1.0, "remigrate": 0.0, "xrefs": 2.0}},
		{name: "plain file", args: "mv /scratch/d/one.tar /scratch/d/three.tar",
			summary: map[string]any{"migrated": 0.0, "mss_renamed": 0.0, "remigrate": 0.0, "xrefs": 0.0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, js := range []bool{false, true} {
				s, l := testSite(t)
				if tc.inMSS {
					b, err := os.ReadFile(s.PFN("/store/a/migrated.fits"))
					if err == nil {
						err = os.MkdirAll(l.RemoteRoot+"/store/a", 0o755)
					}
					if err == nil {
						err = os.WriteFile(l.RemoteRoot+"/store/a/migrated.fits", b, 0o644)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				sh, out, errb := newShell(s)
				sh.JSON = js
				words, _ := Split(tc.args)
				if st := sh.RunArgs(context.Background(), words, strings.NewReader("")); st != ExitOK {
					t.Fatalf("status %d, stderr %q", st, errb.String())
				}
				if !js {
					want := append([]string{words[1] + " renamed to " + words[2]}, tc.lines...)
					if got := strings.Split(strings.TrimRight(norm(out.String(), l), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Errorf("stdout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
					continue
				}
				var doc struct {
					Results []map[string]any `json:"results"`
					Summary map[string]any   `json:"summary"`
				}
				if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
					t.Fatalf("JSON: %v\n%s", err, out.String())
				}
				if len(doc.Results) != 1 || doc.Results[0]["from"] != words[1] || doc.Results[0]["to"] != words[2] {
					t.Errorf("results %v", doc.Results)
				}
				for k, v := range tc.summary {
					if doc.Summary[k] != v {
						t.Errorf("summary %s = %v, want %v (%v)", k, doc.Summary[k], v, doc.Summary)
					}
				}
				if reason, _ := doc.Summary["remigrate_reason"].(string); (reason != "") != (tc.summary["remigrate"] != 0.0) {
					t.Errorf("remigrate_reason %q", reason)
				}
			}
		})
	}
}

// TestAuditSpaceStaleXref: after a directory rename that left the back
// references behind (xrootd's mv), audit -fix space in batch mode reports
// stale back references and rewrites them; it recreates no old name.
func TestAuditSpaceStaleXref(t *testing.T) {
	for _, js := range []bool{false, true} {
		s, l := testSite(t)
		if err := os.Rename(s.PFN("/store/a"), s.PFN("/store/z")); err != nil {
			t.Fatal(err)
		}
		sh, out, errb := newShell(s)
		sh.JSON = js
		if st := sh.RunBatch(context.Background(), strings.NewReader("audit -fix -force space data\n")); st != ExitOK {
			t.Fatalf("status %d, stderr %q", st, errb.String())
		}
		got := norm(out.String(), l)
		want := []string{"Stale pfn xref in data file $SITE/spaces/", "Data file xrefs pfn $SITE/ns/store/a/migrated.fits",
			"Linked from $SITE/ns/store/z/migrated.fits", "pfn xref set.", "1 problem found; 1 fixed.", "(0 unreachable)"}
		if js {
			want = []string{`"problem":"data_xref_stale"`, `"other":"$SITE/ns/store/z/migrated.fits"`, `"fixed":1`, `"unreachable":0`}
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("json %v: output lacks %q:\n%s", js, w, got)
			}
		}
		if exists(s.PFN("/store/a")) {
			t.Errorf("json %v: the old directory was recreated", js)
		}
		if ref, _, _ := meta.GetPfn(s.PFN("/store/z/migrated.fits")); ref != s.PFN("/store/z/migrated.fits") {
			t.Errorf("json %v: back reference %q", js, ref)
		}
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// TestDfCountsPlainFiles: df -count counts the plain files of the
// namespace (here three, stored without a space) in the public space, on
// a row of the namespace filesystem marked as such in text and JSON.
func TestDfCountsPlainFiles(t *testing.T) {
	s, l := testSite(t)
	tests := []struct {
		name string
		json bool
	}{{name: "text"}, {name: "json", json: true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sh, out, errb := newShell(s)
			sh.JSON = tc.json
			if st := sh.RunArgs(context.Background(), []string{"df", "-count", "public"}, strings.NewReader("")); st != 0 {
				t.Fatalf("df -count public: status %d\n%s%s", st, out, errb)
			}
			if !tc.json {
				var row string
				for _, line := range strings.Split(out.String(), "\n") {
					if strings.HasSuffix(line, l.LocalRoot+" (namespace: plain files)") {
						row = line
					}
				}
				if f := strings.Fields(row); len(f) < 6 || f[4] != "3" {
					t.Errorf("no namespace row with 3 files:\n%s", out)
				}
				return
			}
			var doc struct {
				Results []map[string]any `json:"results"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			var total, ns float64
			for _, r := range doc.Results {
				switch {
				case r["namespace"] == true:
					ns = r["files"].(float64)
					if r["partition"] != l.LocalRoot {
						t.Errorf("namespace row %v", r)
					}
				case r["partition"] == nil && r["space"] == "public":
					total = r["files"].(float64)
				}
			}
			if ns != 3 || total < ns {
				t.Errorf("public %v files, namespace %v, want 3 plain:\n%s", total, ns, out)
			}
		})
	}
}
