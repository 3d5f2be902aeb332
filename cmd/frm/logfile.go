package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"frm/core/config"
)

// logWriter is a log file rotated daily: the old file is renamed
// <name>.YYYYMMDD and old ones beyond the keep limit (a count, or a total
// size) are removed, as xrootd's -k does.
type logWriter struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	day      string
	keepN    int
	keepSize int64
}

func openLog(path, keep string) (*logWriter, error) {
	w := &logWriter{path: path, keepN: 7}
	if keep != "" {
		if n, err := strconv.Atoi(keep); err == nil {
			w.keepN = n
		} else if sz, err := config.ParseSize(keep); err == nil {
			w.keepN, w.keepSize = 0, sz
		} else {
			return nil, fmt.Errorf("-k %q: give a number of files or a size such as 500m", keep)
		}
	}
	// Nothing is created but the file: a directory that is not there is
	// a typo more often than a wish (xrootd creates none either).
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: directory %s does not exist (create it first)", path, dir)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%s: %s is not a directory", path, dir)
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *logWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w.f, w.day = f, time.Now().Format("20060102")
	return nil
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if today := time.Now().Format("20060102"); today != w.day {
		w.rotate(w.day)
	}
	return w.f.Write(p)
}

func (w *logWriter) rotate(day string) {
	w.f.Close()
	os.Rename(w.path, w.path+"."+day)
	if err := w.open(); err != nil {
		w.f, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	w.prune()
}

func (w *logWriter) prune() {
	old, _ := filepath.Glob(w.path + ".*")
	sort.Sort(sort.Reverse(sort.StringSlice(old)))
	var total int64
	for i, p := range old {
		if !strings.HasPrefix(filepath.Base(p), filepath.Base(w.path)+".") {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		total += fi.Size()
		if w.keepSize > 0 && total > w.keepSize || w.keepSize == 0 && i >= w.keepN {
			os.Remove(p)
		}
	}
}

func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}
