package mss_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"frm/core/mss"
	"frm/core/mss/msstest"
)

// hidden is a backend that shows only the Backend methods of what it
// wraps: a decorator without Unwrap, behind which no capability can be
// seen.
type hidden struct{ mss.Backend }

// TestRenamerOf: the rename capability is found only where the backend
// can rename, and not through a decorator that hides it.
func TestRenamerOf(t *testing.T) {
	root := filepath.Join(t.TempDir(), "mss")
	posix, err := mss.NewPosix(mss.PosixOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	cmd := func(rename []string) mss.Backend {
		return newCommand(t, mss.CommandOptions{CopyIn: cpIn, CopyOut: cpOut, Rename: rename, RemoteRoot: root})
	}
	for _, tc := range []struct {
		name string
		b    mss.Backend
		ok   bool
	}{
		{"posix", posix, true},
		{"mem", msstest.NewMem(), true},
		{"command without rename_cmd", cmd(nil), false},
		{"command with rename_cmd", cmd(mvCmd), true},
		{"hidden behind a decorator without Unwrap", hidden{posix}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := mss.RenamerOf(tc.b)
			if ok != tc.ok || ok != (r != nil) {
				t.Fatalf("RenamerOf = %v, %v; want ok %v", r, ok, tc.ok)
			}
		})
	}
}

// TestPosixRenameCreatesParents: the new name's directories are made
// with the mode Store uses, and an existing new name is kept.
func TestPosixRenameKeepsTarget(t *testing.T) {
	b, root := newPosix(t)
	writeFile(t, root+"/a/x", "x", time.Time{})
	writeFile(t, root+"/a/y", "y", time.Time{})
	ctx := context.Background()
	if err := b.Rename(ctx, root+"/a/x", root+"/a/y"); !errors.Is(err, mss.ErrExist) || !mss.IsPermanent(err) {
		t.Errorf("Rename onto an existing file: %v, want permanent ErrExist", err)
	}
	if got, _ := os.ReadFile(root + "/a/y"); string(got) != "y" {
		t.Errorf("target replaced: %q", got)
	}
	if err := b.Rename(ctx, root+"/a/x", root+"/b/c/x"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(root + "/b/c"); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("parent: %v %v", st, err)
	}
	if err := b.Rename(ctx, root+"/b/c/x", "/elsewhere/x"); !errors.Is(err, mss.ErrBadName) {
		t.Errorf("Rename outside the root: %v, want ErrBadName", err)
	}
}
