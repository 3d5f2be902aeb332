package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestMkdirAdminModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		name  string
		group bool
		qpath bool
		want  fs.FileMode
	}{
		{"private", false, false, 0o700},
		{"group", true, false, 0o770},
		{"queue path elsewhere", false, true, 0o700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &Config{AdminPath: filepath.Join(dir, "adm"), Instance: "i1", AdminGroup: tc.group}
			if tc.qpath {
				c.Transfer.QueuePath = filepath.Join(dir, "q", "base")
			}
			if err := c.MkdirAdmin(true); err != nil {
				t.Fatal(err)
			}
			check := []string{c.AdminDir(), filepath.Dir(c.AdminDir()), c.QueueDir()}
			if tc.qpath {
				check = append(check, filepath.Dir(c.QueueDir()))
			}
			for _, d := range check {
				st, err := os.Stat(d)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != tc.want {
					t.Errorf("%s: mode %04o, want %04o", d, st.Mode().Perm(), tc.want)
				}
			}
		})
	}
}

func TestTightenAdminDirs(t *testing.T) {
	for _, tc := range []struct {
		name        string
		group       bool
		admin, q    fs.FileMode
		wantA, want fs.FileMode
		changes     int
	}{
		{"pstga made them 0755", false, 0o755, 0o755, 0o700, 0o700, 2},
		{"already right", false, 0o700, 0o700, 0o700, 0o700, 0},
		{"group: 0775 loses o", true, 0o775, 0o750, 0o770, 0o750, 1},
		{"tighter than needed stays", false, 0o500, 0o700, 0o500, 0o700, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &Config{AdminPath: dir, AdminGroup: tc.group}
			os.MkdirAll(c.QueueDir(), 0o700)
			os.Chmod(c.QueueDir(), tc.q)
			os.Chmod(c.AdminDir(), tc.admin)
			defer os.Chmod(c.AdminDir(), 0o700) // so TempDir can clean up
			ch, err := c.TightenAdminDirs()
			if err != nil {
				t.Fatal(err)
			}
			if len(ch) != tc.changes {
				t.Errorf("changes %v", ch)
			}
			for d, want := range map[string]fs.FileMode{c.AdminDir(): tc.wantA, c.QueueDir(): tc.want} {
				if st, _ := os.Stat(d); st.Mode().Perm() != want {
					t.Errorf("%s: %04o, want %04o", d, st.Mode().Perm(), want)
				}
			}
		})
	}
	// Missing directories are no error.
	c := &Config{AdminPath: filepath.Join(t.TempDir(), "none")}
	if ch, err := c.TightenAdminDirs(); err != nil || len(ch) != 0 {
		t.Errorf("missing: %v %v", ch, err)
	}
}
