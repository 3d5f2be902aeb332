package sites

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// KeepRuns is how many runs the history keeps.
const KeepRuns = 30

// History is the runs kept in a state directory: <dir>/runs/<time>.json,
// one report each (without its own history), the newest KeepRuns; and the
// latest report as <dir>/report.json, report.html and report.txt (what
// frm serve serves). Every file is written whole (temporary file, fsync,
// rename): a run killed at any moment leaves the previous files.
type History struct {
	Dir string
}

func (h History) runsDir() string { return filepath.Join(h.Dir, "runs") }

// Runs returns the kept runs, oldest first (unreadable files are
// skipped).
func (h History) Runs() ([]*Report, error) {
	ents, err := os.ReadDir(h.runsDir())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sites history: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []*Report
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(h.runsDir(), n))
		if err != nil {
			continue
		}
		var r Report
		if json.Unmarshal(b, &r) == nil {
			out = append(out, &r)
		}
	}
	return out, nil
}

// Save keeps r as a run and drops the runs past KeepRuns.
func (h History) Save(r *Report) error {
	cp := *r
	cp.History = nil
	cp.Changes = nil
	b, err := json.MarshalIndent(&cp, "", "  ")
	if err != nil {
		return err
	}
	name := r.Generated.UTC().Format("20060102T150405.000000000Z") + ".json"
	if err := WriteFileAtomic(filepath.Join(h.runsDir(), name), b); err != nil {
		return fmt.Errorf("sites history: %w", err)
	}
	ents, err := os.ReadDir(h.runsDir())
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for len(names) > KeepRuns {
		os.Remove(filepath.Join(h.runsDir(), names[0]))
		names = names[1:]
	}
	return nil
}

// Latest file names in the state directory.
const (
	LatestJSON = "report.json"
	LatestHTML = "report.html"
	LatestText = "report.txt"
)

// SaveLatest writes the report in every format as the latest.
func (h History) SaveLatest(r *Report) error {
	for _, f := range []struct {
		name   string
		render func(*Report) ([]byte, error)
	}{{LatestJSON, RenderJSON}, {LatestHTML, RenderHTML}, {LatestText, RenderText}} {
		b, err := f.render(r)
		if err != nil {
			return err
		}
		if err := WriteFileAtomic(filepath.Join(h.Dir, f.name), b); err != nil {
			return fmt.Errorf("sites report: %w", err)
		}
	}
	return nil
}

// LastSeen fills the results' LastSeen from the runs for the sites that
// did not answer now.
func LastSeen(results []Result, runs []*Report) {
	for i := range results {
		r := &results[i]
		if r.LastSeen != nil {
			continue
		}
		for _, run := range slices.Backward(runs) {
			if j := slices.IndexFunc(run.Results, func(x Result) bool { return x.Name == r.Name }); j >= 0 && run.Results[j].LastSeen != nil {
				t := *run.Results[j].LastSeen
				r.LastSeen = &t
				break
			}
		}
	}
}

// WriteFileAtomic writes data to path whole or not at all: a temporary
// file in the same directory, fsync'd, renamed over path, the directory
// fsync'd.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// since is for reports: a time as "2006-01-02 15:04:05Z".
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }
