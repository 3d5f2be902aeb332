package main

// Harness of the conformance suite (conformance_test.go): building frm,
// cloning a generated site, running both tools, normalising their output
// and describing a site's on-disk state.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// xrootdAdmin is the peer: xrootd 5.5.3's frm_admin (Debian
// xrootd-server), or $FRM_XROOTD_ADMIN. frm_xfragent is expected beside it.
var xrootdAdmin = func() string {
	if p := os.Getenv("FRM_XROOTD_ADMIN"); p != "" {
		return p
	}
	return "/usr/bin/frm_admin"
}()

// sitePlaceholder replaces a site's directory in outputs and state.
const sitePlaceholder = "$SITE"

// buildFrm compiles cmd/frm into dir and returns the binary's path.
func buildFrm(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "frm")
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runResult is one tool's run of one command.
type runResult struct {
	stdout, stderr string
	code           int
}

// toolEnv is the environment both tools run in: no XRDCONFIGFN (it makes
// 5.5.3's frm_admin crash, reference §10.15), no XRDNAME, no FRM_CONFIG.
func toolEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		switch k {
		case "XRDCONFIGFN", "XRDNAME", "XRDADMINPATH", "FRM_CONFIG", "FRM_HISTORY":
			continue
		}
		env = append(env, e)
	}
	return env
}

// run executes argv with standard input /dev/null (every prompt takes its
// default) and a timeout.
func runTool(t *testing.T, argv ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = toolEnv()
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := runResult{stdout: so.String(), stderr: se.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if r.code < 0 {
			t.Fatalf("%s crashed: %v\nstderr: %s", strings.Join(argv, " "), err, se.String())
		}
	default:
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return r
}

var (
	// xrootd log lines: "YYMMDD HH:MM:SS PID admin_Func: text".
	logPrefix = regexp.MustCompile(`^\d{6} \d\d:\d\d:\d\d \d+ (admin_\w+: )?`)
	// a prompt; the answer (none: /dev/null) and the next output follow
	// on the same line in xrootd's output.
	promptEnd = regexp.MustCompile(`\((?:n \| y|y \| n) \| a\): `)
)

// normalize turns a tool's output into comparable lines: the site
// directory replaced by $SITE, xrootd's log prefixes turned into the
// frm_admin: prefix frm uses for diagnostics, prompts on lines of their
// own, trailing blanks and empty lines dropped.
func normalize(out, siteDir string) []string {
	out = strings.ReplaceAll(out, siteDir, sitePlaceholder)
	out = promptEnd.ReplaceAllStringFunc(out, func(s string) string { return strings.TrimSpace(s) + "\n" })
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if m := logPrefix.FindStringIndex(l); m != nil {
			l = "frm_admin: " + l[m[1]:]
		}
		l = strings.TrimRight(l, " \t\r")
		if l != "" {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

// diffLines returns the lines only in a and only in b (multisets).
func diffLines(a, b []string) (onlyA, onlyB []string) {
	count := map[string]int{}
	for _, l := range a {
		count[l]++
	}
	for _, l := range b {
		count[l]--
	}
	for _, l := range a {
		if count[l] > 0 {
			onlyA = append(onlyA, l)
			count[l]--
		}
	}
	for _, l := range b {
		if count[l] < 0 {
			onlyB = append(onlyB, l)
			count[l]++
		}
	}
	return onlyA, onlyB
}

// fuzzyNum marks numbers that may differ by a few units between the runs
// (times taken from the clock: keep-until pins, checksum deltas).
var fuzzyNum = regexp.MustCompile(`~(-?\d+)`)

// pairFuzzy drops pairs of lines equal but for ~N numbers within tol.
func pairFuzzy(onlyA, onlyB []string, tol int64) ([]string, []string) {
	used := make([]bool, len(onlyB))
	var restA []string
	for _, a := range onlyA {
		matched := false
		if fuzzyNum.MatchString(a) {
			for j, b := range onlyB {
				if !used[j] && fuzzyEqual(a, b, tol) {
					used[j], matched = true, true
					break
				}
			}
		}
		if !matched {
			restA = append(restA, a)
		}
	}
	var restB []string
	for j, b := range onlyB {
		if !used[j] {
			restB = append(restB, b)
		}
	}
	return restA, restB
}

func fuzzyEqual(a, b string, tol int64) bool {
	if fuzzyNum.ReplaceAllString(a, "~") != fuzzyNum.ReplaceAllString(b, "~") {
		return false
	}
	na, nb := fuzzyNum.FindAllStringSubmatch(a, -1), fuzzyNum.FindAllStringSubmatch(b, -1)
	for i := range na {
		x, _ := strconv.ParseInt(na[i][1], 10, 64)
		y, _ := strconv.ParseInt(nb[i][1], 10, 64)
		if x-y > tol || y-x > tol {
			return false
		}
	}
	return true
}

// ---- sites ----

// workDir returns the directory the sites are made in: t.TempDir(), or a
// fresh directory on /dev/shm when that is a tmpfs with user xattrs (Linux
// 6.6 and later). The suite makes and deletes a few hundred copies of the
// site; on tmpfs that takes seconds instead of minutes.
// FRM_CONFORMANCE_TMPFS=0 forces t.TempDir().
func workDir(t *testing.T) string {
	if os.Getenv("FRM_CONFORMANCE_TMPFS") != "0" {
		if dir, err := os.MkdirTemp("/dev/shm", "frm-conformance-"); err == nil {
			probe := filepath.Join(dir, "probe")
			err := os.WriteFile(probe, nil, 0o644)
			if err == nil {
				err = unix.Setxattr(probe, "user.XrdFrm.Cpy", make([]byte, 24), 0)
			}
			if err == nil {
				os.Remove(probe)
				t.Cleanup(func() { os.RemoveAll(dir) })
				return dir
			}
			os.RemoveAll(dir)
		}
	}
	return t.TempDir()
}

// cloneSite copies the site src to dst (which must not exist and must be
// as long as src, because the XA suffix of every data file encodes the
// length of its partition path): contents, modes, times, user.* xattrs and
// symlinks, with src replaced by dst in symlink targets, in the Pfn back
// references and in the two configuration files. The MSS directory is
// left empty: no frm_admin command reads or writes it.
func cloneSite(t *testing.T, src, dst string) {
	t.Helper()
	if len(src) != len(dst) {
		t.Fatalf("clone %s -> %s: the paths must have the same length", src, dst)
	}
	type dirTimes struct {
		path string
		ts   []unix.Timespec
	}
	var dirs []dirTimes
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if strings.HasPrefix(rel, "mss/") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := os.Mkdir(out, os.FileMode(st.Mode&0o7777)); err != nil {
				return err
			}
			if err := os.Chmod(out, os.FileMode(st.Mode&0o777)); err != nil {
				return err
			}
			dirs = append(dirs, dirTimes{out, ts})
			return copyXattrs(p, out, src, dst)
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if strings.HasPrefix(target, src+"/") {
				target = dst + target[len(src):]
			}
			if err := os.Symlink(target, out); err != nil {
				return err
			}
			return unix.UtimesNanoAt(unix.AT_FDCWD, out, ts, unix.AT_SYMLINK_NOFOLLOW)
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if rel == "frm.toml" || rel == "xrootd.cf" {
				b = bytes.ReplaceAll(b, []byte(src), []byte(dst))
			}
			if err := os.WriteFile(out, b, os.FileMode(st.Mode&0o777)); err != nil {
				return err
			}
			if err := os.Chmod(out, os.FileMode(st.Mode&0o777)); err != nil {
				return err
			}
			if err := copyXattrs(p, out, src, dst); err != nil {
				return err
			}
			return unix.UtimesNano(out, ts)
		}
		return fmt.Errorf("%s: unexpected file type %o", p, st.Mode&unix.S_IFMT)
	})
	if err != nil {
		t.Fatalf("clone %s: %v", src, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		unix.UtimesNano(dirs[i].path, dirs[i].ts)
	}
}

// copyXattrs copies the user.* attributes of src to dst (no symlinks
// followed), rewriting the site prefix in Pfn back references.
func copyXattrs(src, dst, from, to string) error {
	for _, name := range listXattrs(src) {
		v, err := getXattr(src, name)
		if err != nil {
			return err
		}
		if name == "user.XrdFrm.Pfn" && bytes.HasPrefix(v, []byte(from+"/")) {
			v = append([]byte(to), v[len(from):]...)
		}
		if err := unix.Lsetxattr(dst, name, v, 0); err != nil {
			return fmt.Errorf("setxattr %s %s: %w", dst, name, err)
		}
	}
	return nil
}

func listXattrs(p string) []string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n <= 0 {
		return nil
	}
	var names []string
	for _, s := range strings.Split(string(buf[:n]), "\x00") {
		if strings.HasPrefix(s, "user.") {
			names = append(names, s)
		}
	}
	sort.Strings(names)
	return names
}

func getXattr(p, name string) ([]byte, error) {
	buf := make([]byte, 4096)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return nil, fmt.Errorf("getxattr %s %s: %w", p, name, err)
	}
	return buf[:n], nil
}

// ---- state ----

// siteState describes a site's namespace, data files and MSS as sorted
// lines, independently of data-file names (reloc makes new ones): a
// namespace symlink into a space shows its partition and space and the
// data file's size, mtime and attributes; data files no symlink reaches
// are listed as orphans with theirs. The usage log, the admin directory
// and the configs are not part of it.
func siteState(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	rel := func(p string) string { return sitePlaceholder + strings.TrimPrefix(p, dir) }
	reached := map[string]bool{}
	spaces := filepath.Join(dir, "spaces") + "/"
	walk := func(root string, fn func(p string, st *unix.Stat_t)) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				lines = append(lines, "walk error "+rel(p)+": "+err.Error())
				return nil
			}
			var st unix.Stat_t
			if unix.Lstat(p, &st) == nil {
				fn(p, &st)
			}
			return nil
		})
	}
	walk(filepath.Join(dir, "ns"), func(p string, st *unix.Stat_t) {
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			lines = append(lines, fmt.Sprintf("dir  %s %o", rel(p), st.Mode&0o777))
		case unix.S_IFREG:
			lines = append(lines, fmt.Sprintf("file %s size=%d mtime=%d", rel(p), st.Size, st.Mtim.Sec))
			lines = append(lines, attrLines("file "+rel(p), p, dir)...)
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			if !strings.HasPrefix(target, spaces) {
				lines = append(lines, "link "+rel(p)+" -> "+strings.ReplaceAll(target, dir, sitePlaceholder))
				return
			}
			// spaces/<part>/<space>/<XX>/<name>
			parts := strings.Split(strings.TrimPrefix(target, spaces), "/")
			where := strings.Join(parts[:min(2, len(parts))], "/")
			var dst unix.Stat_t
			if unix.Stat(target, &dst) != nil {
				lines = append(lines, "link "+rel(p)+" -> "+strings.ReplaceAll(target, dir, sitePlaceholder)+" (dangling)")
				return
			}
			reached[target] = true
			lines = append(lines, fmt.Sprintf("link %s -> spaces/%s/* size=%d mtime=%d", rel(p), where, dst.Size, dst.Mtim.Sec))
			lines = append(lines, attrLines("link "+rel(p), target, dir)...)
		}
	})
	walk(filepath.Join(dir, "spaces"), func(p string, st *unix.Stat_t) {
		if st.Mode&unix.S_IFMT != unix.S_IFREG || reached[p] {
			return
		}
		parts := strings.Split(strings.TrimPrefix(p, spaces), "/")
		where := strings.Join(parts[:min(2, len(parts))], "/")
		id := fmt.Sprintf("orphan spaces/%s/* size=%d mtime=%d", where, st.Size, st.Mtim.Sec)
		al := attrLines(id, p, dir)
		lines = append(lines, id+" attrs="+strings.Join(al, "|"))
	})
	walk(filepath.Join(dir, "mss"), func(p string, st *unix.Stat_t) {
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			lines = append(lines, fmt.Sprintf("mss  %s size=%d", rel(p), st.Size))
		}
	})
	sort.Strings(lines)
	return lines
}

// attrLines renders the FRM and checksum attributes of p, one line each,
// prefixed by id. Bytes xrootd leaves undefined are not shown (pin bytes
// 9..23); times taken from the clock are ~fuzzy.
func attrLines(id, p, dir string) []string {
	var out []string
	for _, name := range listXattrs(p) {
		v, err := getXattr(p, name)
		if err != nil {
			out = append(out, id+" "+name+" error "+err.Error())
			continue
		}
		var s string
		switch {
		case name == "user.XrdFrm.Cpy" && len(v) == 24:
			s = fmt.Sprintf("cpy=%d tail=%x", int64(binary.BigEndian.Uint64(v)), v[8:])
		case name == "user.XrdFrm.Pin" && len(v) >= 9:
			tm, fl := int64(binary.BigEndian.Uint64(v)), v[8]
			if fl&4 != 0 && fl&1 == 0 {
				s = fmt.Sprintf("pin flags=%02x keep-until=~%d len=%d", fl, tm, len(v))
			} else {
				s = fmt.Sprintf("pin flags=%02x time=%d len=%d", fl, tm, len(v))
			}
		case name == "user.XrdFrm.Pfn":
			s = "pfn=" + strings.ReplaceAll(strings.TrimRight(string(v), "\x00"), dir, sitePlaceholder) +
				fmt.Sprintf(" len=%d nul=%v", len(v), bytes.HasSuffix(v, []byte{0}))
		case strings.HasPrefix(name, "user.XrdCks.") && len(v) == 96:
			n := int(v[31])
			s = fmt.Sprintf("cks name=%s mtime=%d delta=~%d len=%d value=%x",
				strings.TrimRight(string(v[:16]), "\x00"), int64(binary.BigEndian.Uint64(v[16:])),
				int32(binary.BigEndian.Uint32(v[24:])), n, v[32:32+min(n, 64)])
		default:
			s = "raw=" + hex.EncodeToString(v)
		}
		out = append(out, id+" "+name+" "+s)
	}
	return out
}
