package shell

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"frm/core/meta"
)

// TestAttributeCommandsStayInside is the traversal corpus for the commands
// that write attributes or read data: a namespace entry that leads outside
// the namespace root and every partition — a symlink as the final
// component (absolute or relative, to a file or to a directory, through a
// chain of links), or a symlinked directory above it — must be refused
// with a clear message and a non-zero status, and nothing may be written
// on the outside file.
func TestAttributeCommandsStayInside(t *testing.T) {
	s, _ := testSite(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("not frm's"), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := s.PFN("/store/t")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(ns, 0o755))
	rel, err := filepath.Rel(ns, secret)
	must(err)
	must(os.Symlink(secret, filepath.Join(ns, "abs")))                     // final component, absolute
	must(os.Symlink(rel, filepath.Join(ns, "rel")))                        // final component, relative ../../..
	must(os.Symlink(filepath.Join(ns, "abs"), filepath.Join(ns, "chain"))) // a link inside to a link outside
	must(os.Symlink(outside, filepath.Join(ns, "dirlink")))                // a directory above the file
	must(os.Mkdir(filepath.Join(ns, "r"), 0o755))
	must(os.Symlink(secret, filepath.Join(ns, "r", "inner"))) // met by a recursive walk

	cmds := [][]string{
		{"pin", "-k", "forever", "%s"},
		{"pin", "%s"},
		{"mark", "-p", "%s"},
		{"mark", "-m", "%s"},
		{"mmap", "-k", "%s"},
		{"chksum", "calc", "%s"},
		{"chksum", "set", "00000001", "%s"}, {"chksum", "-f", "verify", "00000001", "%s"},
	}
	targets := []string{"/store/t/abs", "/store/t/rel", "/store/t/chain", "/store/t/dirlink/secret"}
	ctx := context.Background()
	for _, c := range cmds {
		for _, target := range targets {
			args := make([]string, len(c))
			for i, a := range c {
				args[i] = strings.ReplaceAll(a, "%s", target)
			}
			name := strings.Join(args, " ")
			t.Run(name, func(t *testing.T) {
				sh, out, errb := newShell(s)
				st := sh.RunArgs(ctx, args, strings.NewReader(""))
				if st == 0 {
					t.Errorf("exit 0; out %q err %q", out.String(), errb.String())
				}
				if !strings.Contains(errb.String(), "outside") {
					t.Errorf("message does not say the name leads outside: %q", errb.String())
				}
				assertNoAttrs(t, secret)
			})
		}
	}
	// A recursive pin meets the link inside a directory.
	sh, _, errb := newShell(s)
	if st := sh.RunArgs(ctx, []string{"pin", "-force", "-k", "forever", "-r", "/store/t/r"}, strings.NewReader("")); st == 0 {
		t.Errorf("pin -r over a link leading outside exited 0: %q", errb.String())
	}
	assertNoAttrs(t, secret)
	// So does a recursive verify (the scrub): reported, never read or marked.
	meta.SetChecksum(secret, meta.Checksum{Alg: "adler32", Value: []byte{0, 0, 0, 1}, MTime: mtime(t, secret)})
	sh, _, errb = newShell(s)
	if st := sh.RunArgs(ctx, []string{"chksum", "-r", "verify", "/store/t/r"}, strings.NewReader("")); st == 0 || !strings.Contains(errb.String(), "outside") {
		t.Errorf("chksum -r verify over a link leading outside: exit %d, %q", st, errb.String())
	}
	if _, ok, _ := meta.GetBadChecksum(secret); ok {
		t.Error("chksum -r verify marked a file outside the site")
	}
}

func mtime(t *testing.T, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.ModTime().Unix()
}

func assertNoAttrs(t *testing.T, path string) {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Listxattr(path, buf)
	if err != nil {
		t.Fatalf("listxattr %s: %v", path, err)
	}
	if n > 0 {
		t.Fatalf("attributes written outside the site on %s: %q", path, buf[:n])
	}
}
