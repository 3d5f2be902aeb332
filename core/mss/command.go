package mss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// CommandOptions configures a Command backend.
type CommandOptions struct {
	// CopyIn fetches from the MSS, CopyOut stores into it; CopyInURL and
	// CopyOutURL are used instead when the rfn is a URL ("scheme://...").
	// Each is an argument vector whose first element is the program.
	CopyIn, CopyOut, CopyInURL, CopyOutURL []string
	// Rename, when set, renames an MSS copy: $SRC is the old rfn, $DST
	// the new one (see Command.Rename). Without it the backend cannot
	// rename (Properties.Rename is false).
	Rename []string
	// Timeout bounds one copy (0 = none). When it expires the command's
	// whole process group is killed and the transfer fails (Transient).
	Timeout time.Duration
	// RemoteRoot, when it is an existing local directory, is a local view
	// of the MSS: Stat and Remove work on rfns below it, and a copy
	// failure for an rfn that is not there is reported as NotExist.
	RemoteRoot string
	// StatAlg is the checksum algorithm Stat prefers when several xattr
	// records exist on a local rfn (default adler32).
	StatAlg string
	// Env, if not nil, is the environment of the copy commands (default:
	// frm's own).
	Env []string
	// PermanentStatus lists exit statuses that mean a permanent failure
	// of the file (not retried); every other non-zero status but 2 is
	// retried.
	PermanentStatus []int
	// GroupDir, when set, is where each running command's process group
	// is recorded (a file named by the group id), so that the groups of
	// a frm that was killed can be ended at its next start (KillOrphans):
	// the command's leader dies with frm (a parent-death signal), but
	// what it started would live on, writing files nobody will take.
	GroupDir string
}

// Command is xrootd's frm.xfr.copycmd model: an administrator-configured
// program copies each file. The argument vector is expanded element by
// element and the program is executed directly, never through a shell,
// so request data (an lfn with spaces, quotes, ";" or "$(…)") reaches it
// as (part of) one literal argument. A configured "/bin/sh -c SCRIPT
// $SRC $DST" keeps working that way: the data arrive as $0, $1 of the
// script, not inside its text.
//
// # Variables
//
// "$name" (letters, digits and '.'; so "$DST.tmp" names the variable
// "DST.tmp", as in xrootd) is replaced, "\$" is a literal dollar, values
// are never expanded again:
//
//	$SRC    Fetch: the rfn          Store: the local file (src)
//	$DST    Fetch: dst (local)      Store: the rfn
//	$PFN    Fetch: dst              Store: req.PFN, else src
//	$LFN $RFN $RID $TID             from the Request
//	$PRTY   priority in decimal; $FMODE the priority in octal (sic, xrootd)
//	$OFLAG  req.Mode ('r' when unset)
//	$OPTS $MDP  "0"
//	$CGI    the request's CGI as "&a=1&b=2"
//	$key    the value of CGI key "key" (names starting with a letter only),
//	        else "$key" is left as it is
//
// xrootd's $NOTIFY, $LFN2, $HOST, $INS and $CID are not provided (they
// stay literal) and there is no limit of 32 pieces.
//
// # Exit status
//
// frm waits for the command's exit status (xrootd 5.5.3 SIGKILLs the
// process group when it reads EOF on the command's output and so reports
// good copies as killed; this does not):
//
//	0                        success
//	2                        NotExist ("file not found", xrootd's convention)
//	PermanentStatus          Permanent (mss.permanent_status)
//	other non-zero status    Transient: tape front ends fail often and
//	                         briefly; the engine retries (transfer.retries)
//	killed by a signal       Transient
//	timeout (Timeout)        Transient; the whole process group is killed
//	cannot start the program Outage (it is not there, or not executable:
//	                         every copy would fail the same way)
//
// The last 4 KiB of the command's standard error are part of the error
// message; its standard output is discarded. When RemoteRoot is a local
// directory and a Fetch fails because the rfn is missing there, the
// error is NotExist whatever the status (cp exits 1 for a missing file).
//
// Each command runs in its own process group; cancelling ctx kills the
// group too. Fetch removes an existing dst before running the command and
// removes dst again when it fails, and checks that a command reporting
// success left a regular file. Checksums (alg) are computed by reading the
// local file after Fetch and before Store; they cannot be recorded in the
// MSS, and Store fails with ErrModified if the source changed meanwhile.
// Whether a Store is atomic is up to the command (Properties.AtomicStore
// is false).
type Command struct {
	o         CommandOptions
	localRoot string // RemoteRoot when it is a local directory path
}

var _ Backend = (*Command)(nil)

// NewCommand returns a Command backend. At least one of the commands must
// be set; each set command needs a program.
func NewCommand(o CommandOptions) (*Command, error) {
	if len(o.CopyIn)+len(o.CopyOut)+len(o.CopyInURL)+len(o.CopyOutURL) == 0 {
		return nil, Permanent(errors.New("mss command: no copy command configured"))
	}
	for _, argv := range [][]string{o.CopyIn, o.CopyOut, o.CopyInURL, o.CopyOutURL, o.Rename} {
		if len(argv) > 0 && argv[0] == "" {
			return nil, Permanent(errors.New("mss command: command with an empty program name"))
		}
	}
	if o.StatAlg == "" {
		o.StatAlg = "adler32"
	}
	c := &Command{o: o}
	if r := o.RemoteRoot; r != "" && filepath.IsAbs(r) && !isURL(r) {
		c.localRoot = filepath.Clean(r)
	}
	return c, nil
}

// Name returns "command".
func (c *Command) Name() string { return "command" }

// Properties: stores are as atomic as the command makes them (assume
// not), no checksum is recorded, Stat works only with a local root,
// renames only with a rename command.
func (c *Command) Properties() Properties {
	return Properties{CanStat: c.localView(), Rename: len(c.o.Rename) > 0}
}

func isURL(s string) bool {
	i := strings.Index(s, "://")
	return i > 0 && !strings.Contains(s[:i], "/")
}

// localView reports whether the remote root is an existing local
// directory.
func (c *Command) localView() bool {
	if c.localRoot == "" {
		return false
	}
	st, err := os.Stat(c.localRoot)
	return err == nil && st.IsDir()
}

// local reports whether rfn lies below a local view of the MSS.
func (c *Command) local(rfn string) bool {
	return c.below(rfn) && c.localView()
}

// below reports whether rfn lies below the configured local view of the
// MSS, whether it is there (mounted) or not.
func (c *Command) below(rfn string) bool {
	return c.localRoot != "" && filepath.IsAbs(rfn) && filepath.Clean(rfn) == rfn && under(rfn, c.localRoot)
}

// Stat stats rfn when it is a local path that exists. When it does not
// exist and lies below a local RemoteRoot directory the answer is
// NotExist; otherwise the backend cannot know and returns an error
// wrapping ErrNoStat.
func (c *Command) Stat(ctx context.Context, rfn string) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if !isURL(rfn) && filepath.IsAbs(rfn) {
		st, err := os.Stat(rfn)
		switch {
		case err == nil && st.Mode().IsRegular():
			return Info{Size: st.Size(), ModTime: st.ModTime(), Checksum: xattrChecksum(rfn, st, c.o.StatAlg)}, nil
		case err == nil:
			return Info{}, Permanent(fmt.Errorf("mss command: %s is not a regular file", rfn))
		case c.below(rfn):
			if down := c.viewDown(); down != nil {
				return Info{}, down
			}
			return Info{}, classifyErrno(err, true)
		}
	}
	return Info{}, fmt.Errorf("mss command: stat %s: %w", rfn, ErrNoStat)
}

// Fetch runs the copy-in command with $SRC = rfn, $DST = $PFN = dst.
func (c *Command) Fetch(ctx context.Context, req Request, dst, alg string) (res Result, err error) {
	argv, err := c.pick(req.RFN, c.o.CopyIn, c.o.CopyInURL, "in")
	if err != nil {
		return Result{}, err
	}
	if _, err := newHashSet(alg); err != nil {
		return Result{}, err
	}
	defer removeOnError(dst, &err)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Result{}, classifyErrno(err, false)
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Result{}, classifyErrno(err, false)
	}
	v := newCopyVars(req, req.RFN, dst, dst)
	if err := c.run(ctx, "copy command", expandArgs(argv, v.lookup)); err != nil {
		if !IsOutage(err) && ctx.Err() == nil && c.below(req.RFN) {
			if down := c.viewDown(); down != nil {
				return Result{}, down
			}
		}
		if !IsNotExist(err) && !IsOutage(err) && ctx.Err() == nil && c.local(req.RFN) {
			if _, serr := os.Stat(req.RFN); errors.Is(serr, fs.ErrNotExist) {
				return Result{}, NotExist(fmt.Errorf("%w (%s does not exist)", err, req.RFN))
			}
		}
		return Result{}, err
	}
	cks, st, err := hashFile(ctx, dst, alg)
	if err != nil {
		if IsNotExist(err) {
			err = Permanent(fmt.Errorf("mss command: copy command %s reported success but left no file %s", argv[0], dst))
		}
		return Result{}, err
	}
	if !st.Mode().IsRegular() {
		return Result{}, Permanent(fmt.Errorf("mss command: copy command %s left %s, not a regular file", argv[0], dst))
	}
	return Result{Bytes: st.Size(), Checksum: cks}, nil
}

// Store runs the copy-out command with $SRC = src, $DST = rfn.
func (c *Command) Store(ctx context.Context, req Request, src, alg string) (Result, error) {
	argv, err := c.pick(req.RFN, c.o.CopyOut, c.o.CopyOutURL, "out")
	if err != nil {
		return Result{}, err
	}
	cks, st, err := hashFile(ctx, src, alg)
	if err != nil {
		return Result{}, err
	}
	if !st.Mode().IsRegular() {
		return Result{}, Permanent(fmt.Errorf("mss command: source %s is not a regular file", src))
	}
	pfn := req.PFN
	if pfn == "" {
		pfn = src
	}
	if c.below(req.RFN) {
		// Not into an unmounted view: the copy command would create the
		// mount point's directories on the local disk.
		if down := c.viewDown(); down != nil {
			return Result{}, down
		}
	}
	v := newCopyVars(req, src, req.RFN, pfn)
	if err := c.run(ctx, "copy command", expandArgs(argv, v.lookup)); err != nil {
		if !IsOutage(err) && ctx.Err() == nil && c.below(req.RFN) {
			if down := c.viewDown(); down != nil {
				return Result{}, down
			}
		}
		return Result{}, err
	}
	if after, err := os.Stat(src); err != nil || changed(st, after) {
		return Result{}, Transient(fmt.Errorf("%w: %s", ErrModified, src))
	}
	return Result{Bytes: st.Size(), Checksum: cks}, nil
}

// Remove removes rfn when it lies below a local view of the MSS (a
// missing file is not an error); otherwise there is no remove command and
// the error wraps ErrNotSupported.
func (c *Command) Remove(ctx context.Context, rfn string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !c.local(rfn) {
		return Permanent(fmt.Errorf("mss command: remove %s: %w", rfn, ErrNotSupported))
	}
	if err := os.Remove(rfn); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return classifyErrno(err, false)
	}
	return nil
}

// pick returns the command for rfn: the URL variant when rfn is a URL.
func (c *Command) pick(rfn string, plain, url []string, dir string) ([]string, error) {
	if isURL(rfn) {
		if len(url) == 0 {
			return nil, Permanent(fmt.Errorf("mss command: %s: url copies not configured (copy_%s_url): %w", rfn, dir, ErrNotSupported))
		}
		return url, nil
	}
	if len(plain) == 0 {
		return nil, Permanent(fmt.Errorf("mss command: no copy_%s command configured: %w", dir, ErrNotSupported))
	}
	return plain, nil
}

// stderrMax bounds the standard error kept for the error message.
const stderrMax = 4 << 10

// Rename runs the rename command with $SRC = from and $DST = to (the
// only variables; others stay literal), expanded like the copy commands
// and never through a shell. Its exit status is read like a copy
// command's: 2 means from does not exist. The command must create to's
// parents and must refuse to replace an existing to (ln(1) then rm(1)
// does both on a file system; mv(1) replaces). With a local view of the
// MSS frm also checks before (from exists, to does not: ErrExist) and
// after (to exists, from is gone).
func (c *Command) Rename(ctx context.Context, from, to string) error {
	if len(c.o.Rename) == 0 {
		return Permanent(fmt.Errorf("mss command: rename %s: no rename command configured (rename_cmd): %w", from, ErrNotSupported))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.local(to) {
		if _, err := os.Lstat(to); err == nil {
			return Permanent(fmt.Errorf("mss command: rename %s to %s: %w", from, to, ErrExist))
		}
	}
	if c.local(from) {
		if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) {
			return NotExist(fmt.Errorf("mss command: rename %s: %w", from, err))
		}
	}
	vars := map[string]string{"SRC": from, "DST": to}
	argv := expandArgs(c.o.Rename, func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	})
	if err := c.run(ctx, "rename command", argv); err != nil {
		return err
	}
	if c.local(to) {
		if _, err := os.Stat(to); err != nil {
			return Permanent(fmt.Errorf("mss command: rename command %s reported success but left no %s", argv[0], to))
		}
		if _, err := os.Lstat(from); err == nil {
			return Permanent(fmt.Errorf("mss command: rename command %s reported success but left %s", argv[0], from))
		}
	}
	return nil
}

// run executes argv in its own process group and classifies the outcome
// (see Command); what names the command in errors ("copy command").
func (c *Command) run(ctx context.Context, what string, argv []string) error {
	rctx := ctx
	if c.o.Timeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, c.o.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(rctx, argv[0], argv[1:]...)
	cmd.Env = c.o.Env
	// Its own process group, so a timeout or a cancel kills what it
	// started too; and killed with frm if frm dies (a copy command must
	// not live on writing a file nobody will take).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		// The group id is the leader's pid (Setpgid with Pgid 0).
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			return err
		}
		return nil
	}
	// A process outside the group (one that called setsid) could keep
	// stderr open; do not wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	tail := &tailBuffer{max: stderrMax}
	cmd.Stderr = tail
	err := cmd.Start()
	if err == nil {
		forget := c.recordGroup(cmd.Process.Pid)
		err = cmd.Wait()
		forget()
	}
	if err == nil {
		return nil
	}
	desc := fmt.Sprintf("%s %s", what, argv[0])
	stderr := tail.String()
	msg := func(what string) string {
		if stderr == "" {
			return desc + " " + what
		}
		return desc + " " + what + ": " + stderr
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", msg("interrupted"), ctx.Err())
	case rctx.Err() != nil:
		return Transient(fmt.Errorf("%s", msg(fmt.Sprintf("timed out after %v (process group killed)", c.o.Timeout))))
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		// It never ran: not there, not executable, no resources.
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			return Transient(fmt.Errorf("%s: cannot start: %w", desc, err))
		}
		return Outage(fmt.Errorf("%s: cannot start: %w", desc, err))
	}
	ws, _ := ee.Sys().(syscall.WaitStatus)
	status := ws.ExitStatus()
	switch {
	case ws.Signaled():
		return Transient(errors.New(msg(fmt.Sprintf("killed by signal %d", ws.Signal()))))
	case status == 2:
		return NotExist(errors.New(msg("ended with status 2 (file not found)")))
	case slices.Contains(c.o.PermanentStatus, status):
		return Permanent(errors.New(msg(fmt.Sprintf("ended with status %d (a permanent failure: mss.permanent_status)", status))))
	}
	return Transient(errors.New(msg(fmt.Sprintf("ended with status %d", status))))
}

// recordGroup notes the process group pgid in GroupDir until the command
// ends (the returned function forgets it).
func (c *Command) recordGroup(pgid int) func() {
	if c.o.GroupDir == "" {
		return func() {}
	}
	start, err := procStart(pgid)
	if err != nil {
		return func() {}
	}
	p := filepath.Join(c.o.GroupDir, strconv.Itoa(pgid))
	if err := os.MkdirAll(c.o.GroupDir, 0o700); err != nil {
		return func() {}
	}
	if err := os.WriteFile(p, []byte(strconv.FormatUint(start, 10)+"\n"), 0o600); err != nil {
		return func() {}
	}
	return func() { os.Remove(p) }
}

// KillOrphans ends the copy commands a frm that died left running, from
// the records in dir (CommandOptions.GroupDir): every process of each
// recorded group started no earlier than the group's leader is killed.
// It returns the processes killed. Call it before any transfer starts.
func KillOrphans(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	groups := map[int]uint64{}
	for _, e := range ents {
		pgid, err := strconv.Atoi(e.Name())
		if err != nil || pgid <= 1 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		start, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			continue
		}
		groups[pgid] = start
	}
	killed := 0
	if len(groups) > 0 {
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil {
				continue
			}
			pgrp, start, err := procGroup(pid)
			if err != nil {
				continue
			}
			// A group id cannot be reused while the group has members;
			// the start time rules out a group made since by chance.
			if lead, ok := groups[pgrp]; ok && start >= lead {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					killed++
				}
			}
		}
	}
	for pgid := range groups {
		os.Remove(filepath.Join(dir, strconv.Itoa(pgid)))
	}
	return killed, nil
}

// procStart is the start time of process pid (clock ticks since boot).
func procStart(pid int) (uint64, error) {
	_, start, err := procGroup(pid)
	return start, err
}

// procGroup reads the process group and start time of pid from
// /proc/<pid>/stat.
func procGroup(pid int) (pgrp int, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// "pid (comm) state ppid pgrp ..."; comm may hold anything, so the
	// fields are counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	pgrp, err = strconv.Atoi(f[2])
	if err != nil {
		return 0, 0, err
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return pgrp, start, err
}

// viewDown returns an Outage error when the local view of the MSS
// (RemoteRoot) is not there: the MSS is not mounted, and a failed copy is
// no fault of the file.
func (c *Command) viewDown() error { return rootMissing("mss command", c.localRoot) }

// Probe implements Prober: every configured copy program must be there
// and executable, and a local view of the MSS (RemoteRoot) must be a
// directory.
func (c *Command) Probe(ctx context.Context) error {
	for _, argv := range [][]string{c.o.CopyIn, c.o.CopyOut, c.o.CopyInURL, c.o.CopyOutURL} {
		if len(argv) == 0 {
			continue
		}
		if _, err := exec.LookPath(argv[0]); err != nil {
			return Outage(fmt.Errorf("mss command: copy command %s: %w", argv[0], err))
		}
	}
	if err := c.viewDown(); err != nil {
		return err
	}
	return ctx.Err()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu   sync.Mutex
	max  int
	buf  []byte
	lost bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		t.lost = t.lost || len(t.buf) > 0 || len(p) > t.max
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.lost = true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String returns the kept text, trimmed, with "…" in front when earlier
// output was dropped.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if t.lost && s != "" {
		s = "…" + s
	}
	return s
}
