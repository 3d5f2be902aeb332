package guard

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type tree struct {
	ns, part, outside string
	roots             *Roots
}

func newTree(t *testing.T) tree {
	t.Helper()
	base := t.TempDir()
	tr := tree{ns: filepath.Join(base, "ns"), part: filepath.Join(base, "p1", "data"), outside: filepath.Join(base, "elsewhere")}
	for _, d := range []string{tr.ns, tr.part, tr.outside, filepath.Join(tr.ns, "d")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tr.roots = NewRoots(tr.ns, tr.part)
	return tr
}

func write(t *testing.T, p, body string) string {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func symlink(t *testing.T, target, link string) string {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func TestOpenStaysInside(t *testing.T) {
	tr := newTree(t)
	secret := write(t, filepath.Join(tr.outside, "secret"), "x")
	data := write(t, filepath.Join(tr.part, "00-data%"), "xa")
	plain := write(t, filepath.Join(tr.ns, "d", "plain"), "p")
	if err := unix.Mkfifo(filepath.Join(tr.ns, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlink(t, tr.outside, filepath.Join(tr.ns, "outdir"))
	symlink(t, "/dev/null", filepath.Join(tr.ns, "dev"))
	cases := []struct {
		name string
		ns   string
		want error // nil: opens, and Data is the resolved file
		data string
	}{
		{"plain file", plain, nil, plain},
		{"XA link into a partition", symlink(t, data, filepath.Join(tr.ns, "xa")), nil, data},
		{"relative link inside the namespace", symlink(t, "d/plain", filepath.Join(tr.ns, "rel-in")), nil, plain},
		{"absolute link outside", symlink(t, secret, filepath.Join(tr.ns, "abs")), ErrOutside, ""},
		{"relative link outside", symlink(t, "../elsewhere/secret", filepath.Join(tr.ns, "rel")), ErrOutside, ""},
		{"chain of links ending outside", symlink(t, filepath.Join(tr.ns, "abs"), filepath.Join(tr.ns, "chain")), ErrOutside, ""},
		{"symlinked directory above", filepath.Join(tr.ns, "outdir", "secret"), ErrOutside, ""},
		{"device", filepath.Join(tr.ns, "dev"), ErrOutside, ""},
		{"fifo (never opened)", filepath.Join(tr.ns, "fifo"), ErrNotRegular, ""},
		{"directory", filepath.Join(tr.ns, "d"), ErrNotRegular, ""},
		{"missing", filepath.Join(tr.ns, "none"), fs.ErrNotExist, ""},
		{"dangling link", symlink(t, filepath.Join(tr.part, "gone%"), filepath.Join(tr.ns, "dangling")), fs.ErrNotExist, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Open(c.ns, tr.roots)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if real, _ := filepath.EvalSymlinks(c.data); f.Data != real {
					t.Errorf("Data = %s, want %s", f.Data, real)
				}
				return
			}
			if err == nil {
				f.Close()
				t.Fatalf("opened %s", c.ns)
			}
			if !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestLinkedSeesRemovalAndRename(t *testing.T) {
	tr := newTree(t)
	p := write(t, filepath.Join(tr.ns, "f"), "x")
	f, err := OpenLocked(context.Background(), p, tr.roots)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Linked(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p, p+".away"); err != nil {
		t.Fatal(err)
	}
	if err := f.Linked(); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrRemoved) {
		t.Errorf("after a rename away: %v", err)
	}
	write(t, p, "another file under the old name")
	if err := f.Linked(); !errors.Is(err, ErrRemoved) {
		t.Errorf("a new file under the name: %v", err)
	}
	os.Remove(p + ".away")
	if err := f.Linked(); !errors.Is(err, ErrRemoved) {
		t.Errorf("after removal: %v", err)
	}
}

func TestLockWaitsForTheHolder(t *testing.T) {
	tr := newTree(t)
	p := write(t, filepath.Join(tr.ns, "f"), "x")
	a, err := OpenLocked(context.Background(), p, tr.roots)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(p, tr.roots)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if ok, err := b.TryLock(); ok || err != nil {
		t.Fatalf("TryLock while held = %v, %v", ok, err)
	}
	if busy, _ := b.LockedByOthers(); !busy {
		t.Error("LockedByOthers does not see the residency lock")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := b.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held = %v", err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(context.Background()) }()
	a.Close()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestLockedByOthersSeesRecordLocks(t *testing.T) {
	tr := newTree(t)
	p := write(t, filepath.Join(tr.ns, "f"), "x")
	f, err := Open(p, tr.roots)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if busy, err := f.LockedByOthers(); busy || err != nil {
		t.Fatalf("unlocked file: %v %v", busy, err)
	}
	// An open file description lock stands for another process's fcntl
	// lock (the kernel reports both to F_OFD_GETLK).
	rd, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	lk := unix.Flock_t{Type: unix.F_RDLCK}
	if err := unix.FcntlFlock(rd.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	if busy, err := f.LockedByOthers(); !busy || err != nil {
		t.Fatalf("shared record lock not seen: %v %v", busy, err)
	}
}

func TestLeaseSeesWriters(t *testing.T) {
	tr := newTree(t)
	p := write(t, filepath.Join(tr.ns, "f"), "x")
	f, err := Open(p, tr.roots)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	w, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err := f.Lease()
	if err != nil || ok {
		t.Fatalf("Lease with a writer open = %v, %v", ok, err)
	}
	if busy, err := OpenForWrite(devIno(t, p)); !busy || err != nil {
		t.Errorf("OpenForWrite with a writer open = %v, %v", busy, err)
	}
	w.Close()
	if busy, err := OpenForWrite(devIno(t, p)); busy || err != nil {
		t.Errorf("OpenForWrite without writers = %v, %v", busy, err)
	}

	ok, leased, err := f.Lease()
	if err != nil || !ok {
		t.Fatalf("Lease = %v, %v", ok, err)
	}
	if !leased {
		t.Skip("no lease on this file system; the /proc fallback was tested above")
	}
	if pend, _ := f.BreakPending(true); pend {
		t.Fatal("break pending without a writer")
	}
	// A writer opening now waits in the kernel until the lease goes, and
	// the holder sees it.
	opened := make(chan error, 1)
	go func() {
		w, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, err = w.WriteString("appended")
			w.Close()
		}
		opened <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pend, err := f.BreakPending(true)
		if err != nil {
			t.Fatal(err)
		}
		if pend {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer's open never showed as a pending break")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-opened:
		t.Fatalf("the writer got in while the lease was held: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	f.Unlease()
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
}

func devIno(t *testing.T, p string) (uint64, uint64) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return uint64(st.Dev), st.Ino
}

func TestWritable(t *testing.T) {
	for _, c := range []struct {
		info string
		want bool
	}{
		{"pos:\t0\nflags:\t0100000\nmnt_id:\t25\n", false},
		{"pos:\t0\nflags:\t0102001\nmnt_id:\t25\n", true}, // O_WRONLY|O_APPEND
		{"pos:\t0\nflags:\t02002\n", true},                // O_RDWR
		{"garbage", false},
	} {
		if got := writable(c.info); got != c.want {
			t.Errorf("writable(%q) = %v", c.info, got)
		}
	}
}
