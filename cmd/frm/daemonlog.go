package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"frm/daemons"
)

// daemonRunning is the message the daemon logs once it runs: the end of
// its start, after which a log file alone gets the records.
const daemonRunning = daemons.RunningMessage

// daemonLogger builds the daemon's logger: text or JSON records on out
// (the -l file, or stderr), at debug level with debug. Under journald
// (stderr is $JOURNAL_STREAM) records written to stderr carry no time
// (journald stamps them) and start with their sd-daemon(3) priority, so
// that journalctl -p filters them. With a log file, the warnings and
// errors of the start also go to stderr, up to "frm daemon running": an
// administrator starting the daemon by hand, or systemd's status, sees
// why it did not start without opening the log.
func daemonLogger(out, stderr io.Writer, toFile, debug bool, format string) (*slog.Logger, error) {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	journal := !toFile && journalStream(stderr)
	var pw *prefixWriter
	if journal {
		// journald stamps lines itself.
		hopts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		}
		pw = &prefixWriter{w: out}
		out = pw
	}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(out, hopts)
	case "json":
		h = slog.NewJSONHandler(out, hopts)
	default:
		return nil, fmt.Errorf("-log-format takes text or json, not %q", format)
	}
	if journal {
		h = &journalHandler{inner: h, pw: pw}
	}
	if toFile {
		t := &startTee{Handler: h, w: stderr, name: "frm daemon", on: new(atomic.Bool), mu: new(sync.Mutex), journal: journalStream(stderr)}
		t.on.Store(true)
		h = t
	}
	return slog.New(h), nil
}

// journalStream reports whether w is the stream journald gave this
// process: stderr, when $JOURNAL_STREAM ("device:inode") names the file
// stderr is (sd_journal_stream_fd(3); a redirected stderr is not).
func journalStream(w io.Writer) bool {
	js := os.Getenv("JOURNAL_STREAM")
	if js == "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	dev, ino, ok := strings.Cut(js, ":")
	if !ok {
		return false
	}
	d, err1 := strconv.ParseUint(dev, 10, 64)
	i, err2 := strconv.ParseUint(ino, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == d && st.Ino == i
}

// journalPriority is the sd-daemon(3) prefix of a record of level l:
// <3> error, <4> warning, <6> info, <7> debug.
func journalPriority(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "<3>"
	case l >= slog.LevelWarn:
		return "<4>"
	case l >= slog.LevelInfo:
		return "<6>"
	}
	return "<7>"
}

// prefixWriter writes every line it is given with prefix in front; the
// journalHandler sets prefix, under mu, around each record.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

// Write is called by the inner handler with mu held (journalHandler).
func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	var buf []byte
	for len(b) > 0 {
		line := b
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			line = b[:i+1]
		}
		buf = append(append(buf, p.prefix...), line...)
		b = b[len(line):]
	}
	if _, err := p.w.Write(buf); err != nil {
		return 0, err
	}
	return n, nil
}

// journalHandler gives each record of inner its journald priority.
type journalHandler struct {
	inner slog.Handler
	pw    *prefixWriter
}

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.pw.mu.Lock()
	defer h.pw.mu.Unlock()
	h.pw.prefix = journalPriority(r.Level)
	return h.inner.Handle(ctx, r)
}

func (h *journalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &journalHandler{inner: h.inner.WithAttrs(as), pw: h.pw}
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{inner: h.inner.WithGroup(name), pw: h.pw}
}

// startTee passes every record to the log, and while on also writes the
// warnings and errors to w as one line each ("frm daemon: cannot start:
// ..."); the daemonRunning record turns it off.
type startTee struct {
	slog.Handler
	w       io.Writer
	name    string
	on      *atomic.Bool
	mu      *sync.Mutex
	attrs   []slog.Attr
	journal bool // w is journald's stream: lines carry their priority
}

func (t *startTee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.Handler.Enabled(ctx, l) || l >= slog.LevelWarn && t.on.Load()
}

func (t *startTee) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == daemonRunning {
		t.on.Store(false)
	}
	if r.Level >= slog.LevelWarn && t.on.Load() {
		line := t.line(r)
		if t.journal {
			line = journalPriority(r.Level) + line
		}
		t.mu.Lock()
		fmt.Fprintln(t.w, line)
		t.mu.Unlock()
	}
	if !t.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return t.Handler.Handle(ctx, r)
}

// line renders r for a terminal: "name: [warning: ]msg: err key=value".
func (t *startTee) line(r slog.Record) string {
	var b strings.Builder
	b.WriteString(t.name + ": ")
	if r.Level < slog.LevelError {
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if a.Key == "err" {
			fmt.Fprintf(&b, ": %v", a.Value)
		} else {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	}
	for _, a := range t.attrs {
		add(a)
	}
	r.Attrs(add)
	return b.String()
}

func (t *startTee) WithAttrs(as []slog.Attr) slog.Handler {
	c := *t
	c.Handler = t.Handler.WithAttrs(as)
	c.attrs = append(append([]slog.Attr(nil), t.attrs...), as...)
	return &c
}

func (t *startTee) WithGroup(name string) slog.Handler {
	c := *t
	c.Handler = t.Handler.WithGroup(name)
	return &c
}
