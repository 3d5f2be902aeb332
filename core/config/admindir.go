package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// AdminDirMode is the mode of the admin directory and of the queue
// directory: 0700, or 0770 with admin_group (all.adminpath ... group), as
// xrootd creates its admin directory. The queue files, the control socket
// and the lock files inside are reachable by nobody else.
func (c *Config) AdminDirMode() fs.FileMode {
	if c.AdminGroup {
		return 0o770
	}
	return 0o700
}

// MkdirAdmin creates the admin directory and, with queues, the queue
// directory (and their missing parents) with AdminDirMode, whatever the
// umask. Directories that exist are left as they are (see
// TightenAdminDirs).
func (c *Config) MkdirAdmin(queues bool) error {
	dirs := []string{c.AdminDir()}
	if queues {
		dirs = append(dirs, c.QueueDir())
	}
	mode := c.AdminDirMode()
	for _, d := range dirs {
		if err := mkdirAllMode(d, mode); err != nil {
			return err
		}
	}
	return nil
}

// mkdirAllMode is os.MkdirAll that gives every directory it creates
// exactly mode (MkdirAll's mode is masked by the umask: 0770 would be
// 0750 under umask 022).
func mkdirAllMode(dir string, mode fs.FileMode) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	for _, d := range created {
		if err := os.Chmod(d, mode); err != nil {
			return err
		}
	}
	return nil
}

// ModeChange is a directory whose permissions TightenAdminDirs reduced.
type ModeChange struct {
	Dir      string
	From, To fs.FileMode
}

func (m ModeChange) String() string {
	return fmt.Sprintf("%s from %04o to %04o", m.Dir, m.From, m.To)
}

// TightenAdminDirs removes the permission bits AdminDirMode does not allow
// from the admin directory and the queue directory, where they exist (a
// 0755 Queues/ that an older frm pstga created, say), and returns what it
// changed. A directory that is not ours to change is an error; the
// others are still done.
func (c *Config) TightenAdminDirs() ([]ModeChange, error) {
	allowed := c.AdminDirMode()
	var changes []ModeChange
	var errs []error
	for _, d := range []string{c.AdminDir(), c.QueueDir()} {
		st, err := os.Stat(d)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		perm := st.Mode().Perm()
		if perm&^allowed == 0 {
			continue
		}
		to := perm & allowed
		if err := os.Chmod(d, to|st.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			errs = append(errs, err)
			continue
		}
		changes = append(changes, ModeChange{Dir: d, From: perm, To: to})
	}
	return changes, errors.Join(errs...)
}
