package msstest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"frm/core/meta"
	"frm/core/mss"
)

// Mem is an in-memory mss.Backend for tests of the code that uses an MSS
// (daemons, commands), as testing/fstest.MapFS is for fs.FS. It passes
// Run. Stores are atomic, checksums are recorded, every name can be
// stat'ed and renamed (mss.Renamer). Fail injects errors.
type Mem struct {
	// Fail, if set, is called before every operation with its name
	// ("stat", "fetch", "store", "remove", "rename") and the rfn (the
	// old name of a rename); a non-nil result
	// is returned as the operation's error (classify it with
	// mss.Transient etc.). Set it before using the backend.
	Fail func(op, rfn string) error

	mu      sync.Mutex // guards objects
	objects map[string]memObject
}

type memObject struct {
	data  []byte
	mtime time.Time
	cks   *mss.Checksum
}

var (
	_ mss.Backend = (*Mem)(nil)
	_ mss.Renamer = (*Mem)(nil)
)

// NewMem returns an empty Mem.
func NewMem() *Mem { return &Mem{objects: map[string]memObject{}} }

// Name returns "mem".
func (m *Mem) Name() string { return "mem" }

// Properties: atomic stores, recorded checksums, Stat for every name,
// renames.
func (m *Mem) Properties() mss.Properties {
	return mss.Properties{AtomicStore: true, RecordsChecksum: true, CanStat: true, Rename: true}
}

// Put stores data as rfn directly (no checksum recorded).
func (m *Mem) Put(rfn string, data []byte, mtime time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[rfn] = memObject{data: append([]byte(nil), data...), mtime: mtime}
}

// Get returns a copy of rfn's data.
func (m *Mem) Get(rfn string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[rfn]
	return append([]byte(nil), o.data...), ok
}

// Names returns the stored rfns, sorted.
func (m *Mem) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objects {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (m *Mem) check(ctx context.Context, op, rfn string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.Fail != nil {
		return m.Fail(op, rfn)
	}
	return nil
}

func memSum(alg string, data []byte) (*mss.Checksum, error) {
	if alg == "" {
		return nil, nil
	}
	h, err := meta.NewHash(alg)
	if err != nil {
		return nil, mss.Permanent(err)
	}
	h.Write(data)
	return &mss.Checksum{Alg: alg, Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

func (m *Mem) get(rfn string) (memObject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[rfn]
	if !ok {
		return o, mss.NotExist(fmt.Errorf("mem: %s: no such object", rfn))
	}
	return o, nil
}

// Stat implements mss.Backend.
func (m *Mem) Stat(ctx context.Context, rfn string) (mss.Info, error) {
	if err := m.check(ctx, "stat", rfn); err != nil {
		return mss.Info{}, err
	}
	o, err := m.get(rfn)
	if err != nil {
		return mss.Info{}, err
	}
	return mss.Info{Size: int64(len(o.data)), ModTime: o.mtime, Checksum: o.cks}, nil
}

// Fetch implements mss.Backend.
func (m *Mem) Fetch(ctx context.Context, req mss.Request, dst, alg string) (res mss.Result, err error) {
	defer func() {
		if err != nil {
			os.Remove(dst)
		}
	}()
	if err := m.check(ctx, "fetch", req.RFN); err != nil {
		return mss.Result{}, err
	}
	o, err := m.get(req.RFN)
	if err != nil {
		return mss.Result{}, err
	}
	cks, err := memSum(alg, o.data)
	if err != nil {
		return mss.Result{}, err
	}
	if o.cks != nil {
		if got, _ := memSum(o.cks.Alg, o.data); got.Hex != o.cks.Hex {
			return mss.Result{}, mss.Permanent(fmt.Errorf("%w: mem %s", mss.ErrChecksumMismatch, req.RFN))
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return mss.Result{}, err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".frmtmp-*")
	if err != nil {
		return mss.Result{}, err
	}
	tmp := f.Name()
	_, err = f.Write(o.data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return mss.Result{}, err
	}
	if !o.mtime.IsZero() {
		os.Chtimes(tmp, time.Time{}, o.mtime)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return mss.Result{}, err
	}
	return mss.Result{Bytes: int64(len(o.data)), Checksum: cks}, nil
}

// Store implements mss.Backend.
func (m *Mem) Store(ctx context.Context, req mss.Request, src, alg string) (mss.Result, error) {
	if err := m.check(ctx, "store", req.RFN); err != nil {
		return mss.Result{}, err
	}
	if _, err := memSum(alg, nil); err != nil {
		return mss.Result{}, err
	}
	st, err := os.Stat(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return mss.Result{}, mss.NotExist(err)
		}
		return mss.Result{}, err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return mss.Result{}, err
	}
	cks, _ := memSum(alg, data)
	if err := ctx.Err(); err != nil {
		return mss.Result{}, err
	}
	m.mu.Lock()
	m.objects[req.RFN] = memObject{data: data, mtime: st.ModTime(), cks: cks}
	m.mu.Unlock()
	return mss.Result{Bytes: int64(len(data)), Checksum: cks}, nil
}

// Remove implements mss.Backend.
func (m *Mem) Remove(ctx context.Context, rfn string) error {
	if err := m.check(ctx, "remove", rfn); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.objects, rfn)
	m.mu.Unlock()
	return nil
}

// Rename implements mss.Renamer.
func (m *Mem) Rename(ctx context.Context, from, to string) error {
	if err := m.check(ctx, "rename", from); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[from]
	switch _, exists := m.objects[to]; {
	case !ok:
		return mss.NotExist(fmt.Errorf("mem: rename %s: no such object", from))
	case exists:
		return mss.Permanent(fmt.Errorf("mem: rename %s to %s: %w", from, to, mss.ErrExist))
	}
	m.objects[to] = o
	delete(m.objects, from)
	return nil
}
