package purge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"frm/core/meta"
	"frm/core/site"
)

// The purge journal records the files a purge has renamed to their hidden
// names (see final.go) before it renames them, so a crash between the
// rename and the removal is repaired at the next start instead of leaving
// files under names nothing looks at. One journal per running Execute,
// in <admin dir>/purging/, held with an flock while its purge runs: a
// journal nobody holds belongs to a purge that died.

const journalDir = "purging"

type journal struct {
	f *os.File
}

// openJournal creates this purge's journal in dir.
func openJournal(dir string) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("purge journal: %w", err)
	}
	name := filepath.Join(dir, fmt.Sprintf("journal.%d.%d", os.Getpid(), time.Now().UnixNano()))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("purge journal: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(name)
		return nil, fmt.Errorf("purge journal %s: %w", name, err)
	}
	return &journal{f: f}, nil
}

// record durably lists the files about to be hidden.
func (j *journal) record(hs []*held) error {
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "hide %s %s %s\n", strconv.Quote(h.ns), strconv.Quote(h.hidden), strconv.Quote(h.data))
	}
	if _, err := j.f.WriteString(b.String()); err != nil {
		return fmt.Errorf("purge journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("purge journal: %w", err)
	}
	return nil
}

// clear empties the journal once its files are removed or put back.
func (j *journal) clear() error { return j.f.Truncate(0) }

// close removes the journal.
func (j *journal) close() {
	os.Remove(j.f.Name())
	j.f.Close()
}

// Recover repairs what purges that died on this host left behind (see
// recoverJournals). Execute calls it first; the daemon also at start, so a
// repair does not wait for the next purge a space needs.
func Recover(s *site.Site, onErr func(error)) {
	recovered := recoverJournals(filepath.Join(s.Config().AdminDir(), journalDir), onErr)
	var lfns []string
	for _, ns := range recovered {
		if lfn, ok := s.Names.LFN(ns); ok {
			lfns = append(lfns, lfn)
		}
	}
	if len(lfns) > 0 {
		// The site's catalog learns what came back and what went.
		if err := s.BeginChange(false, lfns...).Done(context.Background()); err != nil {
			onErr(err)
		}
	}
}

// recoverJournals repairs what purges that died left behind in dir: a file
// still under its hidden name goes back under its own name (the next cycle
// decides about it again); a data file whose hidden name was already
// removed is removed, completing the purge. Journals of running purges
// are left alone. Problems are reported through onErr.
func recoverJournals(dir string, onErr func(error)) (recovered []string) {
	names, err := filepath.Glob(filepath.Join(dir, "journal.*"))
	if err != nil || len(names) == 0 {
		return nil
	}
	for _, name := range names {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close() // a running purge
			continue
		}
		ok := true
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			ns, err := recoverLine(sc.Text())
			if err != nil {
				onErr(err)
				ok = false
			}
			if ns != "" {
				recovered = append(recovered, ns)
			}
		}
		if err := sc.Err(); err != nil {
			onErr(fmt.Errorf("purge journal %s: %w", name, err))
			ok = false
		}
		if ok {
			os.Remove(name)
		}
		f.Close()
	}
	return recovered
}

// recoverLine repairs one journal line; it returns the namespace entry it
// concerned ("" for a malformed line).
func recoverLine(line string) (string, error) {
	var ns, hidden, data string
	rest, ok := strings.CutPrefix(line, "hide ")
	if !ok {
		return "", fmt.Errorf("purge journal: unknown line %q", line)
	}
	for _, p := range []*string{&ns, &hidden, &data} {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return "", fmt.Errorf("purge journal: malformed line %q", line)
		}
		*p, _ = strconv.Unquote(q)
		rest = strings.TrimPrefix(rest[len(q):], " ")
	}
	var st unix.Stat_t
	if unix.Lstat(hidden, &st) == nil {
		err := unix.Renameat2(unix.AT_FDCWD, hidden, unix.AT_FDCWD, ns, unix.RENAME_NOREPLACE)
		if err != nil {
			return ns, fmt.Errorf("purge journal: put %s back from %s: %w (left under the second name)", ns, hidden, err)
		}
		return ns, nil
	}
	if data == "" || unix.Lstat(data, &st) != nil {
		return ns, nil // removed, or never hidden
	}
	// The hidden name went, the data file did not: finish, unless the
	// namespace entry leads to it again (the rename never happened).
	var ds, ts unix.Stat_t
	if unix.Stat(data, &ds) == nil && unix.Stat(ns, &ts) == nil && ds.Ino == ts.Ino && ds.Dev == ts.Dev {
		return ns, nil
	}
	if ref, ok, _ := meta.GetPfn(data); ok && ref != ns {
		return ns, nil // another name's data file now
	}
	if err := os.Remove(data); err != nil && !errors.Is(err, os.ErrNotExist) {
		return ns, fmt.Errorf("purge journal: remove data file %s: %w", data, err)
	}
	return ns, nil
}
