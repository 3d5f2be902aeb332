package usage

import (
	"errors"
	"io/fs"
	"os"
	"time"
)

// AddPurged adds bytes to the Purged field of space name (creating the
// entry, and the file, if needed) and touches .Usage.upd so servers notice,
// as xrootd's oss does when frm_purged removes a file. The file is
// rewritten atomically (temp file, fsync, rename).
func AddPurged(path, name string, bytes int64) error {
	es, err := Read(path)
	if err != nil && !errors.Is(err, ErrMissing) {
		return err
	}
	i := -1
	for j := range es {
		if es[j].Name == name {
			i = j
		}
	}
	if i < 0 {
		es = append(es, Entry{Name: name, Added: time.Now().Unix()})
		i = len(es) - 1
	}
	es[i].Purged += bytes
	b, err := Encode(es)
	if err != nil {
		return err
	}
	if err := writeAtomic(path, b); err != nil {
		return err
	}
	return touch(path + ".upd")
}

// touch sets the times of p to now, creating it empty when missing.
func touch(p string) error {
	now := time.Now()
	err := os.Chtimes(p, now, now)
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}
