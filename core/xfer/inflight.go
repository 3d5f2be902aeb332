package xfer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"frm/core/meta"
	"frm/core/site"
)

// Inflight records the stages in progress on this host, one small file
// each in a directory of the admin directory, so that a stage interrupted
// by a crash or a kill leaves nothing behind: at the next start Recover
// removes the placeholder (<pfn>.anew) and the data file it was filling.
// The request itself is still queued (or, in a shared queue, taken over by
// another host), so the file is staged again from scratch.
//
// The records are written without fsync: they must survive the process,
// not the machine. After a power loss, audit -fix space removes data
// files no name refers to.
type Inflight struct {
	dir string
}

// OpenInflight keeps records in dir (created when needed).
func OpenInflight(dir string) *Inflight { return &Inflight{dir: dir} }

type inflightRecord struct {
	PFN  string `json:"pfn"`
	Anew string `json:"anew"`
	Data string `json:"data,omitempty"` // the data file in a space ("" for a plain file)
}

func (f *Inflight) path(pfn string) string {
	h := sha256.Sum256([]byte(pfn))
	return filepath.Join(f.dir, hex.EncodeToString(h[:12]))
}

// add records a stage of pfn writing anew (and data); done removes the
// record once the stage ended either way.
func (f *Inflight) add(pfn, anew, data string) (done func(), err error) {
	if f == nil {
		return func() {}, nil
	}
	b, _ := json.Marshal(inflightRecord{PFN: pfn, Anew: anew, Data: data})
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return nil, fmt.Errorf("in-flight record: %w", err)
	}
	p := f.path(pfn)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("in-flight record: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("in-flight record: %w", err)
	}
	return func() { os.Remove(p) }, nil
}

// Recover cleans up after the stages a dead process left: placeholders
// and their data files. It returns how many stages it cleaned up; errors
// are reported through onErr.
func (f *Inflight) Recover(s *site.Site, onErr func(error)) int {
	names, err := filepath.Glob(filepath.Join(f.dir, "*"))
	if err != nil {
		return 0
	}
	n := 0
	for _, name := range names {
		b, err := os.ReadFile(name)
		var r inflightRecord
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			os.Remove(name) // a half-written record: nothing was written yet
			continue
		}
		if err := removePlaceholder(s, r.PFN, r.Anew, r.Data); err != nil {
			onErr(err)
			continue
		}
		os.Remove(name)
		n++
	}
	return n
}

// removePlaceholder removes a stage's placeholder anew and, when it is
// unfinished, the data file it was filling (data; "" to read it from the
// placeholder link): one in a configured partition that no name refers to
// yet (no back reference, or one to pfn while pfn does not lead to it).
func removePlaceholder(s *site.Site, pfn, anew, data string) error {
	if t, err := os.Readlink(anew); err == nil {
		if data == "" {
			data = t
		}
		if t == data {
			if err := os.Remove(anew); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove placeholder %s: %w", anew, err)
			}
		}
	} else if data == "" {
		// A plain placeholder (no space): the partial file itself.
		if err := os.Remove(anew); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove placeholder %s: %w", anew, err)
		}
		return nil
	}
	if data == "" {
		return nil
	}
	if _, ok := s.Spaces.Contains(filepath.Clean(data)); !ok {
		return nil // frm never removes what is not in its partitions
	}
	var ds, ps unix.Stat_t
	if unix.Stat(data, &ds) != nil {
		return nil
	}
	if unix.Stat(pfn, &ps) == nil && ps.Ino == ds.Ino && ps.Dev == ds.Dev {
		return nil // the stage finished after all
	}
	if ref, ok, _ := meta.GetPfn(data); ok && ref != pfn {
		return nil // another name's data
	}
	if err := os.Remove(data); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove unfinished data file %s: %w", data, err)
	}
	return nil
}
