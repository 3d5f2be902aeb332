package xrdq

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain doubles as the helper process of the concurrency test: with
// XRDQ_HELPER_DIR set it adds XRDQ_HELPER_N requests and exits.
func TestMain(m *testing.M) {
	if dir := os.Getenv("XRDQ_HELPER_DIR"); dir != "" {
		n, _ := strconv.Atoi(os.Getenv("XRDQ_HELPER_N"))
		tag := os.Getenv("XRDQ_HELPER_TAG")
		d := Open(dir)
		for i := 0; i < n; i++ {
			r := Request{LFN: fmt.Sprintf("/%s/%d", tag, i), ID: tag, Op: '+', Notify: "-", User: "helper"}
			if err := d.Add(r); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freshQueueFile is the 8192-byte file xrootd creates.
func freshQueueFile() []byte {
	b := make([]byte, 2*RecordSize)
	binary.NativeEndian.PutUint32(b[8:], RecordSize)
	return b
}

func currentUmask() int {
	old := unix.Umask(0o022)
	unix.Umask(old)
	return old
}

func TestInitByteExact(t *testing.T) {
	d := Open(filepath.Join(t.TempDir(), "Queues"))
	if d.Exists() {
		t.Fatal("Exists before Init")
	}
	if _, err := os.Stat(d.Path); !os.IsNotExist(err) {
		t.Fatal("Open created the directory")
	}
	if err := d.Init(); err != nil {
		t.Fatal(err)
	}
	if !d.Exists() {
		t.Fatal("Exists after Init is false")
	}
	want := freshQueueFile()
	mode := os.FileMode(0o644 &^ currentUmask())
	for _, k := range []string{"pstg", "migr", "getf", "putf"} {
		for p := 0; p < 3; p++ {
			fn := filepath.Join(d.Path, fmt.Sprintf("%sQ.%d", k, p))
			got, err := os.ReadFile(fn)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: not the 8192-byte fresh queue file (len %d)", fn, len(got))
			}
			for _, f := range []string{fn, fn + ".lock"} {
				st, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != mode {
					t.Errorf("%s: mode %v want %v", f, st.Mode().Perm(), mode)
				}
				if f != fn && st.Size() != 0 {
					t.Errorf("%s: lock file not empty", f)
				}
			}
		}
	}
	entries, _ := os.ReadDir(d.Path)
	if len(entries) != 24 {
		t.Errorf("%d entries in queue dir, want 24", len(entries))
	}
	// Init leaves existing queues alone.
	if err := d.Add(Request{LFN: "/keep", ID: "k", Op: '+'}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(d.Queue(Stage, 0).Path())
	if err := d.Init(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(d.Queue(Stage, 0).Path())
	if !bytes.Equal(before, after) {
		t.Error("Init modified an existing queue file")
	}
	// Exists needs only one of the priority-0 files.
	d2 := Open(t.TempDir())
	os.WriteFile(filepath.Join(d2.Path, "putfQ.0"), nil, 0o644)
	if !d2.Exists() {
		t.Error("Exists with putfQ.0 only is false")
	}
}

// fileState checks the structural invariants of a queue file written only
// by this package and returns the chained records (tombstones included).
func fileState(t *testing.T, q *Queue) []Request {
	t.Helper()
	data, err := os.ReadFile(q.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(data)%RecordSize != 0 || len(data) < RecordSize {
		t.Fatalf("%s: size %d", q.Path(), len(data))
	}
	n := len(data) / RecordSize
	first := int32(ne.Uint32(data[0:]))
	last := int32(ne.Uint32(data[4:]))
	free := int32(ne.Uint32(data[8:]))
	if !bytes.Equal(data[hdrSize:RecordSize], make([]byte, RecordSize-hdrSize)) {
		t.Errorf("%s: header slot not zero past 12 bytes", q.Path())
	}
	seen := make([]string, n)
	valid := func(off int32) bool { return off >= RecordSize && off%RecordSize == 0 && int(off) < len(data) }
	var chain []Request
	var tail int32
	for off := first; off != 0; {
		if !valid(off) || seen[off/RecordSize] != "" {
			t.Fatalf("%s: bad/cyclic chain at %d", q.Path(), off)
		}
		seen[off/RecordSize] = "chain"
		r, next, _ := DecodeRecord(data[off : off+RecordSize])
		if r.Offset != off {
			t.Errorf("%s: record at %d has This %d", q.Path(), off, r.Offset)
		}
		r.Offset = off
		chain = append(chain, r)
		tail, off = off, next
	}
	// An empty chain keeps the Last of its final record, as xrootd
	// leaves it (observed: 5.5.3's frm_xfrd after staging two requests
	// leaves first 0, last 8192, free 8192).
	if first != 0 && last != tail {
		t.Errorf("%s: header Last %d, chain tail %d", q.Path(), last, tail)
	}
	zero := make([]byte, RecordSize)
	for off := free; off != 0; {
		if !valid(off) || seen[off/RecordSize] != "" {
			t.Fatalf("%s: bad/cyclic/overlapping free chain at %d", q.Path(), off)
		}
		seen[off/RecordSize] = "free"
		rec := data[off : off+RecordSize]
		next := int32(ne.Uint32(rec[offNext:]))
		copy(zero[offNext:], rec[offNext:offNext+4])
		if !bytes.Equal(rec, zero) {
			t.Errorf("%s: free slot %d not zeroed", q.Path(), off)
		}
		off = next
	}
	for i := 1; i < n; i++ {
		if seen[i] == "" {
			t.Errorf("%s: slot %d is neither chained nor free", q.Path(), i*RecordSize)
		}
	}
	return chain
}

func listAll(t *testing.T, d *Dir, kinds []Kind, prty int) []Request {
	t.Helper()
	var out []Request
	if err := d.List(kinds, prty, func(r Request) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func walkAll(t *testing.T, q *Queue) []Request {
	t.Helper()
	var out []Request
	if err := q.Walk(func(r Request) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func ids(rs []Request) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.ID+":"+r.Path())
	}
	return s
}

func newDir(t *testing.T) *Dir {
	t.Helper()
	d := Open(filepath.Join(t.TempDir(), "Queues"))
	if err := d.Init(); err != nil {
		t.Fatal(err)
	}
	return d
}

func add(t *testing.T, d *Dir, op byte, prty int8, id, lfn string, added int64) {
	t.Helper()
	if err := d.Add(Request{LFN: lfn, ID: id, Op: op, Priority: prty, Added: added, Notify: "-"}); err != nil {
		t.Fatal(err)
	}
}

func TestAddListOrderAndDefaults(t *testing.T) {
	d := newDir(t)
	add(t, d, '+', 0, "s0", "/s0", 0)
	add(t, d, '<', 1, "g1", "/g1", 10)
	add(t, d, '>', 5, "p2", "/p2", 10) // clamped to 2
	add(t, d, '=', -3, "p0", "/p0", 10)
	add(t, d, '&', 0, "m0", "/m0", 10)
	add(t, d, '^', 2, "m2", "/m2", 10)
	add(t, d, '+', 0, "s0b", "/s0b", 10)
	if err := d.Add(Request{LFN: "/x", Op: '?'}); err == nil {
		t.Error("Add with op '?' succeeded")
	}
	all := []Kind{Put, Stage, Get, Migrate, Put}
	got := ids(listAll(t, d, all, -1))
	want := []string{"g1:/g1", "m0:/m0", "m2:/m2", "s0:/s0", "s0b:/s0b", "p0:/p0", "p2:/p2"}
	if !slices.Equal(got, want) {
		t.Errorf("List order\n got %v\nwant %v", got, want)
	}
	if got := ids(listAll(t, d, []Kind{Put}, 2)); !slices.Equal(got, []string{"p2:/p2"}) {
		t.Errorf("List put prty 2: %v", got)
	}
	if err := d.List(nil, 3, func(Request) error { return nil }); err == nil {
		t.Error("List priority 3 accepted")
	}
	rs := listAll(t, d, []Kind{Stage}, 0)
	now := time.Now().Unix()
	if rs[0].Added < now-60 || rs[0].Added > now+1 || rs[0].Instance != "anon" || rs[0].Offset != RecordSize {
		t.Errorf("defaults: %+v", rs[0])
	}
	if rs[1].Offset != 2*RecordSize || rs[1].Priority != 0 {
		t.Errorf("second stage record: %+v", rs[1])
	}
	if p := listAll(t, d, []Kind{Put}, 2)[0]; p.Priority != 2 {
		t.Errorf("priority not clamped: %d", p.Priority)
	}
	for _, k := range []Kind{Stage, Migrate, Get, Put} {
		for p := 0; p < 3; p++ {
			fileState(t, d.Queue(k, p))
		}
	}
	// An error from fn stops the listing.
	stop := fmt.Errorf("stop")
	n := 0
	if err := d.List(all, -1, func(Request) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("List error: %v after %d", err, n)
	}
}

func TestFreeChainReuse(t *testing.T) {
	d := newDir(t)
	q := d.Queue(Stage, 0)
	for i := 1; i <= 4; i++ {
		add(t, d, '+', 0, fmt.Sprint("r", i), fmt.Sprint("/f", i), int64(i))
	}
	// The first add reused the zeroed record xrootd puts on the free list.
	if rs := fileState(t, q); rs[0].Offset != RecordSize || len(rs) != 4 {
		t.Fatalf("chain %v", ids(rs))
	}
	st, _ := os.Stat(q.Path())
	if st.Size() != 5*RecordSize {
		t.Fatalf("size %d", st.Size())
	}
	// Take r2 (middle) and r4 (tail): free chain is 16384 -> 8192.
	for _, id := range []string{"r2", "r4"} {
		r, ok, err := d.Take(Stage, 0, func(r Request) bool { return r.ID == id })
		if err != nil || !ok || r.ID != id {
			t.Fatalf("take %s: %v %v %+v", id, ok, err, r)
		}
	}
	if _, _, free, _ := q.Header(); free != 4*RecordSize {
		t.Errorf("free head %d", free)
	}
	fileState(t, q)
	add(t, d, '+', 0, "r5", "/f5", 5) // -> 16384
	add(t, d, '+', 0, "r6", "/f6", 6) // -> 8192
	add(t, d, '+', 0, "r7", "/f7", 7) // -> EOF 20480
	chain := fileState(t, q)
	wantChain := []string{"r1:/f1", "r3:/f3", "r5:/f5", "r6:/f6", "r7:/f7"}
	if !slices.Equal(ids(chain), wantChain) {
		t.Errorf("chain %v", ids(chain))
	}
	var offs []int32
	for _, r := range chain {
		offs = append(offs, r.Offset)
	}
	if !slices.Equal(offs, []int32{4096, 12288, 16384, 8192, 20480}) {
		t.Errorf("offsets %v", offs)
	}
	// List is slot order (as xrootd), Walk chain order.
	if got := ids(listAll(t, d, []Kind{Stage}, 0)); !slices.Equal(got, []string{"r1:/f1", "r6:/f6", "r3:/f3", "r5:/f5", "r7:/f7"}) {
		t.Errorf("List %v", got)
	}
	if got := ids(walkAll(t, q)); !slices.Equal(got, wantChain) {
		t.Errorf("Walk %v", got)
	}
}

func TestCancel(t *testing.T) {
	d := newDir(t)
	add(t, d, '+', 0, "a", "/a1", 1)
	add(t, d, '+', 1, "a", "/a2", 1)
	add(t, d, '<', 0, "a", "/a3", 1)
	add(t, d, '&', 0, "a", "/a4", 1)
	add(t, d, '+', 0, "b", "/b1", 1)
	n, err := d.Cancel([]Kind{Stage, Get}, "a")
	if err != nil || n != 3 {
		t.Fatalf("cancel: %d %v", n, err)
	}
	if got := ids(listAll(t, d, ListOrder, -1)); !slices.Equal(got, []string{"a:/a4", "b:/b1"}) {
		t.Errorf("after cancel: %v", got)
	}
	// Tombstones stay chained with LFN[0] = NUL, the rest intact.
	chain := fileState(t, d.Queue(Stage, 0))
	if len(chain) != 2 || chain[0].LFN != "\x00a1" || !chain[0].Tombstone() || chain[0].ID != "a" {
		t.Errorf("tombstone: %+v", chain)
	}
	if got := ids(walkAll(t, d.Queue(Stage, 0))); !slices.Equal(got, []string{"b:/b1"}) {
		t.Errorf("Walk skips tombstones: %v", got)
	}
	// As in xrootd, matching records are counted again.
	if n, _ := d.Cancel([]Kind{Stage, Get}, "a"); n != 3 {
		t.Errorf("second cancel counted %d", n)
	}
	if n, _ := d.Cancel([]Kind{Stage}, "nosuch"); n != 0 {
		t.Errorf("cancel nosuch: %d", n)
	}
	if _, err := d.Cancel([]Kind{Stage}, ""); err == nil {
		t.Error("empty id accepted")
	}
	// Long ids are truncated to 39 bytes, as xrootd's strlcpy.
	long := "0123456789012345678901234567890123456789xyz"
	add(t, d, '>', 0, long[:39], "/long", 1)
	if n, _ := d.Cancel([]Kind{Put}, long); n != 1 {
		t.Errorf("long id cancel: %d", n)
	}
	// Take frees the tombstones it passes.
	r, ok, err := d.Take(Stage, 0, nil)
	if err != nil || !ok || r.ID != "b" {
		t.Fatalf("take: %+v %v %v", r, ok, err)
	}
	if chain := fileState(t, d.Queue(Stage, 0)); len(chain) != 0 {
		t.Errorf("chain not empty: %v", ids(chain))
	}
	// Missing queue files are skipped.
	os.Remove(d.Queue(Put, 2).Path())
	if _, err := d.Cancel([]Kind{Put}, "x"); err != nil {
		t.Error(err)
	}
}

func TestTake(t *testing.T) {
	d := newDir(t)
	q := d.Queue(Get, 1)
	for i := 1; i <= 5; i++ {
		add(t, d, '<', 1, fmt.Sprint("r", i), fmt.Sprint("/t", i), int64(i))
	}
	steps := []struct {
		accept func(Request) bool
		want   string
		rest   []string
	}{
		{func(r Request) bool { return r.ID == "r5" }, "r5", []string{"r1", "r2", "r3", "r4"}}, // tail
		{nil, "r1", []string{"r2", "r3", "r4"}},                                                // head
		{func(r Request) bool { return r.ID == "r3" }, "r3", []string{"r2", "r4"}},             // middle
		{func(r Request) bool { return false }, "", []string{"r2", "r4"}},
		{func(r Request) bool { return r.ID == "r4" }, "r4", []string{"r2"}},
		{nil, "r2", nil},
		{nil, "", nil},
	}
	for i, s := range steps {
		r, ok, err := d.Take(Get, 1, s.accept)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (s.want != "") || r.ID != s.want {
			t.Errorf("step %d: got %q,%v want %q", i, r.ID, ok, s.want)
		}
		var rest []string
		for _, r := range fileState(t, q) {
			rest = append(rest, r.ID)
		}
		if !slices.Equal(rest, s.rest) {
			t.Errorf("step %d: chain %v want %v", i, rest, s.rest)
		}
		add(t, d, '<', 1, "x", "/x", 9) // appends after the right tail
		if c := fileState(t, q); c[len(c)-1].ID != "x" {
			t.Errorf("step %d: add did not append", i)
		}
		d.Cancel([]Kind{Get}, "x")
		d.Take(Get, 1, func(r Request) bool { return false }) // frees the tombstone
	}
	// prty -1 takes the highest priority first.
	add(t, d, '<', 0, "low", "/l", 1)
	add(t, d, '<', 2, "high", "/h", 2)
	if r, ok, _ := d.Take(Get, -1, nil); !ok || r.ID != "high" {
		t.Errorf("take -1: %+v", r)
	}
	if r, ok, _ := d.Take(Get, -1, nil); !ok || r.ID != "low" {
		t.Errorf("take -1 second: %+v", r)
	}
	os.Remove(d.Queue(Get, 0).Path())
	if _, ok, err := d.Take(Get, 0, nil); ok || err != nil {
		t.Error("take from missing file", ok, err)
	}
}

func TestRegisterRecordsFirst(t *testing.T) {
	d := newDir(t)
	q := d.Queue(Stage, 0)
	add(t, d, '+', 0, "a", "/a", 5)
	if err := q.Add(Request{LFN: "clusterid", ID: "123", Op: '@', Options: Register, Added: 1}); err != nil {
		t.Fatal(err)
	}
	add(t, d, '+', 0, "b", "/b", 6)
	if got := ids(walkAll(t, q)); !slices.Equal(got, []string{"123:clusterid", "a:/a", "b:/b"}) {
		t.Errorf("chain %v", got)
	}
	fileState(t, q)
	// List hides registration records (as xrootd).
	if got := ids(listAll(t, d, []Kind{Stage}, 0)); !slices.Equal(got, []string{"a:/a", "b:/b"}) {
		t.Errorf("List %v", got)
	}
}

func TestCompact(t *testing.T) {
	d := newDir(t)
	q := d.Queue(Put, 0)
	add(t, d, '>', 0, "a", "/a", 30)
	add(t, d, '>', 0, "b", "/b", 10)
	add(t, d, '>', 0, "c", "/c", 20)
	add(t, d, '>', 0, "d", "/d", 10) // same addTOD as b, later slot
	add(t, d, '>', 0, "e", "/e", 5)
	if err := q.Add(Request{LFN: "reg1", ID: "r1", Op: '@', Options: Register, Added: 99}); err != nil {
		t.Fatal(err)
	}
	if err := q.Add(Request{LFN: "reg2", ID: "r2", Op: '@', Options: Register, Added: 98}); err != nil {
		t.Fatal(err)
	}
	d.Cancel([]Kind{Put}, "c")
	d.Take(Put, 0, func(r Request) bool { return r.ID == "e" }) // on the free list now
	before := listAll(t, d, []Kind{Put}, 0)

	n, err := d.Compact(Put, 0)
	if err != nil || n != 5 {
		t.Fatalf("compact: %d %v", n, err)
	}
	chain := fileState(t, q)
	if got := ids(chain); !slices.Equal(got, []string{"r1:reg1", "r2:reg2", "d:/d", "b:/b", "a:/a"}) {
		t.Errorf("compacted chain %v", got)
	}
	first, last, free, _ := q.Header()
	if first != 4096 || last != 5*4096 || free != 0 {
		t.Errorf("header %d %d %d", first, last, free)
	}
	st, _ := os.Stat(q.Path())
	if st.Size() != 6*RecordSize {
		t.Errorf("size %d", st.Size())
	}
	after := listAll(t, d, []Kind{Put}, 0)
	if len(after) != len(before) {
		t.Errorf("lost requests: %d -> %d", len(before), len(after))
	}
	if _, err := os.Stat(q.Path() + ".new"); !os.IsNotExist(err) {
		t.Error(".new left behind")
	}
	// An Add after compaction appends (no free slot).
	add(t, d, '>', 0, "f", "/f", 1)
	if c := fileState(t, q); c[len(c)-1].Offset != 6*RecordSize {
		t.Errorf("add after compact at %d", c[len(c)-1].Offset)
	}

	// Empty queue: a 4096-byte header-only file, header all zero.
	q1 := d.Queue(Put, 1)
	add(t, d, '>', 1, "z", "/z", 1)
	d.Cancel([]Kind{Put}, "z")
	if n, err := q1.Compact(); err != nil || n != 0 {
		t.Fatalf("compact empty: %d %v", n, err)
	}
	if b, _ := os.ReadFile(q1.Path()); !bytes.Equal(b, make([]byte, RecordSize)) {
		t.Errorf("empty compacted file: len %d", len(b))
	}
	add(t, d, '>', 1, "y", "/y", 1)
	if c := fileState(t, q1); len(c) != 1 || c[0].Offset != RecordSize {
		t.Errorf("add to header-only file: %+v", c)
	}
	// Missing file: initialised, nothing recovered.
	q2 := d.Queue(Put, 2)
	os.Remove(q2.Path())
	if n, err := q2.Compact(); err != nil || n != 0 {
		t.Fatal(n, err)
	}
	if b, _ := os.ReadFile(q2.Path()); !bytes.Equal(b, freshQueueFile()) {
		t.Error("compact of a missing file did not initialise it")
	}
}

// TestCrashStates builds the files a crash between Add's steps leaves and
// checks they are handled as the crash-safety comment in queue.go claims.
func TestCrashStates(t *testing.T) {
	d := newDir(t)
	q := d.Queue(Stage, 0)
	add(t, d, '+', 0, "a", "/a", 1)
	add(t, d, '+', 0, "b", "/b", 2)

	// Crash after step 1 of an append: complete record at EOF, unlinked.
	rec, _ := EncodeRecord(Request{LFN: "/crash", ID: "c", Op: '+', Added: 3, Instance: "anon"}, 3*RecordSize, 0)
	f, _ := os.OpenFile(q.Path(), os.O_RDWR, 0)
	f.WriteAt(rec[:], 3*RecordSize)
	f.Close()
	if got := ids(walkAll(t, q)); !slices.Equal(got, []string{"a:/a", "b:/b"}) {
		t.Errorf("walk after crash: %v", got)
	}
	if got := ids(listAll(t, d, []Kind{Stage}, 0)); !slices.Equal(got, []string{"a:/a", "b:/b", "c:/crash"}) {
		t.Errorf("list after crash: %v", got)
	}
	add(t, d, '+', 0, "d", "/d", 4) // appends after EOF, chain intact
	if got := ids(walkAll(t, q)); !slices.Equal(got, []string{"a:/a", "b:/b", "d:/d"}) {
		t.Errorf("walk after next add: %v", got)
	}
	if n, _ := q.Compact(); n != 4 {
		t.Errorf("compact recovered %d, want 4", n)
	}
	if got := ids(fileState(t, q)); !slices.Equal(got, []string{"a:/a", "b:/b", "c:/crash", "d:/d"}) {
		t.Errorf("after compact: %v", got)
	}

	// Crash after the link but before the header: Last is stale.
	rec, _ = EncodeRecord(Request{LFN: "/e", ID: "e", Op: '+', Added: 5, Instance: "anon"}, 5*RecordSize, 0)
	f, _ = os.OpenFile(q.Path(), os.O_RDWR, 0)
	f.WriteAt(rec[:], 5*RecordSize)
	var nb [4]byte
	ne.PutUint32(nb[:], 5*RecordSize)
	f.WriteAt(nb[:], 4*RecordSize+offNext) // old tail d -> e; header still says Last = d
	f.Close()
	add(t, d, '+', 0, "g", "/g", 6)
	if got := ids(fileState(t, q)); !slices.Equal(got, []string{"a:/a", "b:/b", "c:/crash", "d:/d", "e:/e", "g:/g"}) {
		t.Errorf("stale Last not repaired: %v", got)
	}

	// Crash after linking a record written into the free head (slot of g,
	// taken below) but before the header: Free and Last are both stale.
	if _, ok, _ := q.Take(func(r Request) bool { return r.ID == "g" }); !ok {
		t.Fatal("take g")
	}
	_, last, free, _ := q.Header()
	rec, _ = EncodeRecord(Request{LFN: "/h", ID: "h", Op: '+', Added: 7, Instance: "anon"}, free, 0)
	f, _ = os.OpenFile(q.Path(), os.O_RDWR, 0)
	f.WriteAt(rec[:], int64(free))
	ne.PutUint32(nb[:], uint32(free))
	f.WriteAt(nb[:], int64(last)+offNext)
	f.Close()
	add(t, d, '+', 0, "i", "/i", 8)
	if got := ids(fileState(t, q)); !slices.Equal(got, []string{"a:/a", "b:/b", "c:/crash", "d:/d", "e:/e", "h:/h", "i:/i"}) {
		t.Errorf("live free head: %v", got)
	}
}

// TestModel runs random operations against an in-memory model.
func TestModel(t *testing.T) {
	d := newDir(t)
	q := d.Queue(Migrate, 1)
	rng := rand.New(rand.NewSource(1))
	var model []string // chained live ids in order
	seq := 0
	for step := 0; step < 400; step++ {
		switch op := rng.Intn(10); {
		case op < 5:
			seq++
			id := fmt.Sprint("id", seq)
			add(t, d, '&', 1, id, "/m/"+id, int64(rng.Intn(50)+1))
			model = append(model, id)
		case op < 7 && len(model) > 0:
			id := model[rng.Intn(len(model))]
			r, ok, err := d.Take(Migrate, 1, func(r Request) bool { return r.ID == id })
			if err != nil || !ok || r.ID != id {
				t.Fatalf("step %d take %s: %v %v", step, id, ok, err)
			}
			model = slices.DeleteFunc(model, func(s string) bool { return s == id })
		case op < 8 && len(model) > 0:
			id := model[rng.Intn(len(model))]
			if n, err := d.Cancel([]Kind{Migrate}, id); err != nil || n != 1 {
				t.Fatalf("cancel %s: %d %v", id, n, err)
			}
			model = slices.DeleteFunc(model, func(s string) bool { return s == id })
		case op < 9:
			if _, err := q.Compact(); err != nil {
				t.Fatal(err)
			}
			// Compaction reorders by addTOD: adopt the file's order.
			model = model[:0]
			for _, r := range walkAll(t, q) {
				model = append(model, r.ID)
			}
		default:
			if _, _, err := d.Take(Migrate, 1, func(Request) bool { return false }); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for _, r := range fileState(t, q) {
			if !r.Tombstone() {
				got = append(got, r.ID)
			}
		}
		if !slices.Equal(got, model) {
			t.Fatalf("step %d: chain %v model %v", step, got, model)
		}
		if l := listAll(t, d, []Kind{Migrate}, 1); len(l) != len(model) {
			t.Fatalf("step %d: list has %d want %d", step, len(l), len(model))
		}
	}
}

func TestConcurrentAdd(t *testing.T) {
	d := newDir(t)
	const goroutines, perG, procs, perP = 8, 40, 2, 40
	var wg sync.WaitGroup
	errs := make(chan error, goroutines+procs)
	for p := 0; p < procs; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "XRDQ_HELPER_DIR="+d.Path,
				fmt.Sprint("XRDQ_HELPER_N=", perP), fmt.Sprint("XRDQ_HELPER_TAG=proc", p))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("helper %d: %v %s", p, err, out)
			}
		}(p)
	}
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				r := Request{LFN: fmt.Sprintf("/g%d/%d", g, i), ID: fmt.Sprint("g", g), Op: '+'}
				if err := d.Add(r); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 { // readers interleaved with writers
					if err := d.List(ListOrder, -1, func(Request) error { return nil }); err != nil {
						errs <- err
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range fileState(t, d.Queue(Stage, 0)) {
		if seen[r.LFN] {
			t.Errorf("duplicate %s", r.LFN)
		}
		seen[r.LFN] = true
	}
	if want := goroutines*perG + procs*perP; len(seen) != want {
		t.Errorf("%d records, want %d", len(seen), want)
	}
	for p := 0; p < procs; p++ {
		for i := 0; i < perP; i++ {
			if !seen[fmt.Sprintf("/proc%d/%d", p, i)] {
				t.Errorf("lost /proc%d/%d", p, i)
			}
		}
	}
}

func TestConcurrentTake(t *testing.T) {
	d := newDir(t)
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := map[string]int{}
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 0; i < n; i++ {
			if err := d.Add(Request{LFN: fmt.Sprint("/t/", i), ID: "t", Op: '<', Priority: int8(i % 3)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				finished := false
				select {
				case <-done:
					finished = true
				default:
				}
				r, ok, err := d.Take(Get, -1, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					taken[r.LFN]++
					mu.Unlock()
					continue
				}
				if finished { // all added before this Take, which found none
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(taken) != n {
		t.Errorf("took %d distinct, want %d", len(taken), n)
	}
	for lfn, c := range taken {
		if c != 1 {
			t.Errorf("%s taken %d times", lfn, c)
		}
	}
	for p := 0; p < 3; p++ {
		if c := fileState(t, d.Queue(Get, p)); len(c) != 0 {
			t.Errorf("prty %d: %d left", p, len(c))
		}
	}
}

func TestLockFiles(t *testing.T) {
	d := newDir(t)
	add(t, d, '+', 1, "a", "/a", 1)
	q := d.Queue(Stage, 1)
	// A queue file without its .lock: the lock file is created, as xrootd.
	os.Remove(q.LockPath())
	if got := ids(listAll(t, d, []Kind{Stage}, 1)); !slices.Equal(got, []string{"a:/a"}) {
		t.Errorf("list without lock file: %v", got)
	}
	if _, err := os.Stat(q.LockPath()); err != nil {
		t.Error("lock file not recreated")
	}
	// Reading a missing queue creates nothing.
	q2 := d.Queue(Put, 2)
	os.Remove(q2.Path())
	os.Remove(q2.LockPath())
	listAll(t, d, []Kind{Put}, -1)
	d.Cancel([]Kind{Put}, "x")
	d.Take(Put, 2, nil)
	if _, err := os.Stat(q2.LockPath()); !os.IsNotExist(err) {
		t.Error("reading a missing queue created its lock file")
	}
	// Dir.Walk: chain order over kinds and priorities.
	add(t, d, '+', 0, "b", "/b", 1)
	add(t, d, '<', 2, "c", "/c", 1)
	var got []string
	if err := d.Walk([]Kind{Stage, Get, Stage}, -1, func(r Request) error { got = append(got, r.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"c", "b", "a"}) {
		t.Errorf("Dir.Walk %v", got)
	}
}

// TestAddBatchMatchesAdd: a group commit leaves the queue files byte for
// byte as the same requests added one by one (so xrootd's tools read them
// alike), on fresh files and on files with free slots to reuse.
func TestAddBatchMatchesAdd(t *testing.T) {
	mk := func(n int, prty int8) []Request {
		var rs []Request
		for i := range n {
			rs = append(rs, Request{ID: fmt.Sprintf("r%03d", i), LFN: fmt.Sprintf("/store/f%03d", i), Op: '+',
				Priority: prty, Added: 1700000000 + int64(i), User: "u", Instance: "anon", Notify: "-"})
		}
		return rs
	}
	for _, pre := range []int{0, 5, 12} { // requests queued and taken first: free slots
		one, batch := Open(t.TempDir()), Open(t.TempDir())
		for _, d := range []*Dir{one, batch} {
			if err := d.Init(); err != nil {
				t.Fatal(err)
			}
			for _, r := range mk(pre, 1) {
				if err := d.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < pre; i += 2 {
				if _, _, err := d.Take(Stage, 1, func(r Request) bool { return r.ID == fmt.Sprintf("r%03d", i) }); err != nil {
					t.Fatal(err)
				}
			}
		}
		rs := append(mk(20, 1), mk(3, 2)...)
		for i := range rs {
			rs[i].ID = "b" + rs[i].ID
		}
		for _, r := range rs {
			if err := one.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		done, err := batch.AddBatch(rs)
		if err != nil || slices.Contains(done, false) {
			t.Fatalf("AddBatch: %v %v", done, err)
		}
		for _, p := range []int{1, 2} {
			a, _ := os.ReadFile(one.Queue(Stage, p).Path())
			b, _ := os.ReadFile(batch.Queue(Stage, p).Path())
			if !bytes.Equal(a, b) {
				t.Errorf("pre %d, priority %d: the batch's file differs from one-by-one adds (%d and %d bytes)", pre, p, len(b), len(a))
			}
		}
	}
}
