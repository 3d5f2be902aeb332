// Package usage owns xrootd's space usage log (oss.usage log DIR): the file
// <dir>/[<inst>/].Usage of 128 fixed 128-byte entries, one per space, with
// the bytes used, staged, purged and adjusted by administrators. frm reads
// it for `query usage` and `audit usage`, and keeps it as xrootd's own
// tools do (log.go): created when a tool starts, updated in place under
// the file's fcntl lock (a running xrootd server keeps it open and writes
// into it), the changes of stand-alone tools put in the Staged and Purged
// fields for the servers to fold into Used.
package usage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	entrySize  = 128
	maxEntries = 128
	fileSize   = entrySize * maxEntries
	nameSize   = 64
)

// Entry is the usage of one space.
type Entry struct {
	Name   string
	Used   int64 // bytes the server considers in use
	Staged int64
	Purged int64
	Adjust int64 // administrator correction
	Added  int64 // epoch the entry was created
}

// Effective is what the space really uses by the log's account.
func (e Entry) Effective() int64 { return e.Used + e.Staged - e.Purged + e.Adjust }

// Path is the usage file for dir and instance.
func Path(dir, instance string) string {
	if instance != "" {
		return filepath.Join(dir, instance, ".Usage")
	}
	return filepath.Join(dir, ".Usage")
}

// ErrMissing means the usage file does not exist.
var ErrMissing = errors.New("usage file missing")

// Read returns the entries of the usage file.
func Read(path string) ([]Entry, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrMissing)
	}
	if err != nil {
		return nil, err
	}
	return Decode(b)
}

// Decode parses usage-file bytes (native little-endian layout).
func Decode(b []byte) ([]Entry, error) {
	if len(b)%entrySize != 0 {
		return nil, fmt.Errorf("usage file: size %d is not a multiple of %d", len(b), entrySize)
	}
	var es []Entry
	for off := 0; off+entrySize <= len(b); off += entrySize {
		r := b[off : off+entrySize]
		name := r[:nameSize]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) == 0 {
			continue
		}
		v := func(i int) int64 { return int64(binary.LittleEndian.Uint64(r[nameSize+8*i:])) }
		es = append(es, Entry{Name: string(name), Used: v(0), Staged: v(1), Purged: v(2), Adjust: v(3), Added: v(7)})
	}
	return es, nil
}

// Encode renders entries as a usage file.
func Encode(es []Entry) ([]byte, error) {
	if len(es) > maxEntries {
		return nil, fmt.Errorf("usage file: %d spaces, at most %d fit", len(es), maxEntries)
	}
	b := make([]byte, fileSize)
	for i, e := range es {
		if len(e.Name) >= nameSize {
			return nil, fmt.Errorf("usage file: space name %q too long", e.Name)
		}
		r := b[i*entrySize:]
		copy(r, e.Name)
		put := func(j int, v int64) { binary.LittleEndian.PutUint64(r[nameSize+8*j:], uint64(v)) }
		put(0, e.Used)
		put(1, e.Staged)
		put(2, e.Purged)
		put(3, e.Adjust)
		put(7, e.Added)
	}
	return b, nil
}
