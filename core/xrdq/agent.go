package xrdq

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"frm/core/names"
)

// The frm_xfragent request protocol (XrdFrmXfrAgent::Process), one request
// per line, tokens separated by blanks (only ' ': a TAB is part of a token,
// as in XrdOucStream):
//
//	OP[tid] reqid notify prty mode path [path ...]   add, OP one of + < > = & ^
//	-reqid | - reqid                                  cancel (pstg and getf)
//	~reqid | ~ reqid                                  cancel (migr and putf)
//	?[queues] [vars...]                               list
//	![queues]                                         wake the daemon

// CmdType says what an agent request line asks for.
type CmdType int

// Agent request types.
const (
	CmdNone   CmdType = iota // empty line: nothing to do
	CmdAdd                   // queue one record per path
	CmdCancel                // cancel a request id
	CmdList                  // list queued requests
	CmdWake                  // ping the transfer daemon
)

// AgentProgram is the trace id recorded when an add request has none glued
// to its operation character (xrootd records its program name).
var AgentProgram = "frm_xfragent"

// AgentCmd is a parsed agent request line.
type AgentCmd struct {
	Type CmdType
	Op   byte // the request character: + < > = & ^ - ~ ? !

	// Add.
	TID    string // trace id glued to Op ("" when none)
	ReqID  string // request id (also Cancel)
	Notify string // "-", file:///path, udp://host:port/msg (CR separated)
	Prty   int    // priority, atoi semantics, clamped 0..2
	Mode   string // mode letters (w s n f q)
	// Paths are the valid paths, in order, as given (with any ?cgi).
	Paths []string
	// PathErrors holds one error per rejected path ("Invalid url - <p>").
	// They do not stop the valid paths from being added, as in xrootd.
	PathErrors []error

	// Kinds: Add: the target queue; Cancel: the queues the id is removed
	// from; List: the queues to list, in the order given, repeats kept
	// (frm_xfragent lists "?++" twice), default Stage, Get; Wake: the
	// queues named.
	Kinds []Kind
	// Vars are the list variables (only the valid ones, at most 12:
	// frm_xfragent ignores unknown names). Empty: list the raw LFN.
	Vars []string
	// Token is the first token as given (Wake sends it to the daemon).
	Token string
}

// agentKind maps a queue character of '?' and '!' requests.
func agentKind(c byte) (Kind, bool) { return KindForOp(c) }

// maxListVars is XrdFrcRequest::getLast.
const maxListVars = 12

// ParseAgentLine parses one frm_xfragent request line (a trailing newline
// is ignored). Errors carry xrootd's texts without the log prefix:
// "request id missing in '<' request." (naming the real operation, unlike
// 5.5.3 which always says '+'), "request id missing in cancel request.",
// "Invalid request, ' bogus '.". Deviations from 5.5.3 (fixes): "- id" and
// "~ id" cancel from both queues; a path's ?cgi is not part of the URL
// check (and BuildRequest stores it apart from the path); a line holding a
// NUL byte is refused whole (frm_xfragent reads it as a C string and
// queues the name cut at the NUL, another file); a path the daemon would
// refuse (names.Clean: ".." above the root, a component over 255 bytes) is
// a path error, not queued.
func ParseAgentLine(line string) (AgentCmd, error) {
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	if i := strings.IndexByte(line, 0); i >= 0 {
		return AgentCmd{Type: CmdNone}, fmt.Errorf("request refused: NUL byte at offset %d in %q", i, clip(line, 200))
	}
	toks := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' })
	if len(toks) == 0 {
		return AgentCmd{Type: CmdNone}, nil
	}
	tp := toks[0]
	rest := toks[1:]
	cmd := AgentCmd{Op: tp[0], Token: tp}
	switch tp[0] {
	case '+', '<', '>', '=', '&', '^':
		return parseAdd(cmd, tp, rest)
	case '-', '~':
		cmd.Type = CmdCancel
		if tp[0] == '-' {
			cmd.Kinds = []Kind{Stage, Get}
		} else {
			cmd.Kinds = []Kind{Migrate, Put}
		}
		id := tp[1:]
		if id == "" && len(rest) > 0 {
			id = rest[0]
		}
		if id == "" {
			return cmd, errors.New("request id missing in cancel request.")
		}
		cmd.ReqID = id
		return cmd, nil
	case '?':
		cmd.Type = CmdList
		cmd.Kinds = queueChars(tp[1:])
		if tp[1:] == "" {
			cmd.Kinds = []Kind{Stage, Get}
		}
		for _, v := range rest {
			if len(cmd.Vars) >= maxListVars {
				break
			}
			if validVar(v) {
				cmd.Vars = append(cmd.Vars, v)
			}
		}
		return cmd, nil
	case '!':
		cmd.Type = CmdWake
		cmd.Kinds = queueChars(tp[1:])
		return cmd, nil
	}
	return AgentCmd{Type: CmdNone, Token: tp}, fmt.Errorf("Invalid request, ' %s '.", tp)
}

func queueChars(s string) []Kind {
	var ks []Kind
	for i := 0; i < len(s); i++ {
		if k, ok := agentKind(s[i]); ok {
			ks = append(ks, k)
		}
	}
	return ks
}

func parseAdd(cmd AgentCmd, tp string, rest []string) (AgentCmd, error) {
	cmd.Type = CmdAdd
	k, _ := KindForOp(tp[0])
	cmd.Kinds = []Kind{k}
	cmd.TID = tp[1:]
	names := []string{"request id", "notify path", "priority", "mode", "path"}
	for i, name := range names {
		if i >= len(rest) {
			return cmd, fmt.Errorf("%s missing in '%c' request.", name, tp[0])
		}
	}
	cmd.ReqID, cmd.Notify, cmd.Mode = rest[0], rest[1], rest[3]
	cmd.Prty = atoiPrty(rest[2])
	for _, p := range rest[4:] {
		if err := checkAgentPath(p); err != nil {
			cmd.PathErrors = append(cmd.PathErrors, err)
			continue
		}
		cmd.Paths = append(cmd.Paths, p)
	}
	return cmd, nil
}

// checkAgentPath accepts what SplitObject accepts and whose path part
// (the daemon's lfn) names.Clean accepts.
func checkAgentPath(p string) error {
	_, lfo, _, err := SplitObject(p)
	if err != nil {
		return err
	}
	obj, _, _ := strings.Cut(p, "?")
	if _, err := names.Clean(obj[lfo:]); err != nil {
		var ne *names.Error
		if errors.As(err, &ne) {
			return &names.Error{LFN: obj, Err: ne.Err}
		}
		return err
	}
	return nil
}

// clip shortens s for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// atoiPrty reproduces "Prty = atoi(tp)" into a signed char followed by the
// clamp to 0..2: glibc atoi is (int)strtol (leading blanks, sign, digits,
// saturating at the long range), then the value is truncated to int32 and
// to int8 ("128" is -128, so 0; "258" is 2).
func atoiPrty(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var v int64
	sat := false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		d := int64(s[i] - '0')
		if !sat {
			if v > (math.MaxInt64-d)/10 {
				sat = true
			} else {
				v = v*10 + d
			}
		}
	}
	if neg {
		v = -v
	}
	if sat {
		v = math.MaxInt64
		if neg {
			v = math.MinInt64
		}
	}
	p := int8(int32(v))
	switch {
	case p < 0:
		return 0
	case p > MaxPriority:
		return MaxPriority
	}
	return int(p)
}

// strlcpy truncates s to fit a C field of max+1 bytes (and at a NUL).
func strlcpy(s string, max int) string {
	s = cstr(s)
	if len(s) > max {
		s = s[:max]
	}
	return s
}

// ModeOptions maps agent mode letters to request options
// (XrdFrcUtils::MapM2O): 'w' read/write; unless notify starts with '-':
// 's' or 'n' notify on success, 'f' or the absence of 'q' notify on
// failure.
func ModeOptions(notify, mode string) Options {
	var o Options
	if strings.IndexByte(mode, 'w') >= 0 {
		o |= ReadWrite
	}
	if notify == "" || notify[0] != '-' {
		if strings.ContainsAny(mode, "sn") {
			o |= NotifySucc
		}
		if strings.IndexByte(mode, 'f') >= 0 || strings.IndexByte(mode, 'q') < 0 {
			o |= NotifyFail
		}
	}
	return o
}

// BuildRequest makes the queue record frm_xfragent would make for one path
// of an add command: Op, User (cmd.TID or AgentProgram), ID, Notify,
// Priority, Options (Purge for '=' and '^', plus ModeOptions), Added = now,
// Instance (instance; "", "anon" and "default" give "anon"). Over-long
// strings are truncated as xrootd's strlcpy does. Unlike frm_xfragent 5.5.3
// the ?cgi is stored apart from the path ("path\x00cgi", Opaque just past
// the NUL: the layout xrootd's server writes), so transfers use the bare
// path. path should have been accepted by ParseAgentLine; an invalid one
// gets LFO 0.
func BuildRequest(cmd AgentCmd, path string, instance string, now time.Time) Request {
	lfn, lfo, opaque, err := SplitObject(path)
	if err != nil {
		base, cgi, hasQ := strings.Cut(strlcpy(path, MaxLFN), "?")
		lfn, lfo, opaque = base, 0, 0
		if hasQ {
			opaque = int16(len(base) + 1)
			if cgi != "" {
				lfn = base + "\x00" + cgi
			}
		}
		if !strings.HasPrefix(base, "/") {
			lfo = int16(chkURL(base))
		}
	}
	tid := cmd.TID
	if tid == "" {
		tid = AgentProgram
	}
	switch instance {
	case "", "default":
		instance = "anon"
	}
	var opts Options
	if cmd.Op == '=' || cmd.Op == '^' {
		opts |= Purge
	}
	opts |= ModeOptions(cmd.Notify, cmd.Mode)
	return Request{
		LFN:      lfn,
		User:     strlcpy(tid, MaxUser),
		ID:       strlcpy(cmd.ReqID, MaxID),
		Notify:   strlcpy(cmd.Notify, MaxNotify),
		Instance: strlcpy(instance, MaxInstance),
		Added:    now.Unix(),
		Options:  opts,
		LFO:      lfo,
		Opaque:   opaque,
		Op:       cmd.Op,
		Priority: int8(clampPrty(cmd.Prty)),
	}
}

// MaxAgentLine is the longest request line the agent accepts, in bytes
// (without the newline): room for hundreds of paths of MaxLFN bytes.
const MaxAgentLine = 1 << 20

// LineTooLongError reports a request line longer than the reader's limit.
// The reader has skipped it up to its newline; reading goes on.
type LineTooLongError struct {
	Len    int64  // the line's length in bytes
	Max    int    // the limit
	Prefix string // its first bytes
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("request line too long (%d bytes, at most %d): %q", e.Len, e.Max, e.Prefix+"...")
}

// AgentReader splits the agent's input into request lines without
// holding more than its limit of any one line in memory.
type AgentReader struct {
	r   *bufio.Reader
	max int
	num int
	err error // sticky: the read error or io.EOF that ended the input
}

// NewAgentReader reads request lines from r; max bounds a line (0 means
// MaxAgentLine).
func NewAgentReader(r io.Reader, max int) *AgentReader {
	if max <= 0 {
		max = MaxAgentLine
	}
	return &AgentReader{r: bufio.NewReaderSize(r, min(max+1, 64<<10)), max: max}
}

// Ready reports whether Next can return without waiting for more input:
// a whole line is buffered, or the input has ended. A writer that commits
// requests in groups commits when nothing more is ready.
func (a *AgentReader) Ready() bool {
	if a.err != nil {
		return true
	}
	b, _ := a.r.Peek(a.r.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

// Next returns the next line without its newline and its number (from 1).
// The last line needs no newline. A line over the limit gives its number
// and a *LineTooLongError, and the next call reads the line after it. At
// the end of the input Next returns io.EOF; a read error is returned (with
// the number of the line it cut, which is dropped: a cut line may name
// another file) and ends the input.
func (a *AgentReader) Next() (line string, num int, err error) {
	if a.err != nil {
		return "", a.num, a.err
	}
	var buf []byte
	var n int64
	for {
		chunk, err := a.r.ReadSlice('\n')
		n += int64(len(chunk))
		if len(buf)+len(chunk) <= a.max+1 { // +1: the newline
			buf = append(buf, chunk...)
		} else if len(buf) < a.max+1 {
			buf = append(buf, chunk[:a.max+1-len(buf)]...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			a.err = io.EOF
			if n == 0 {
				return "", a.num, io.EOF
			}
		case err != nil:
			a.num++
			a.err = err
			return "", a.num, err
		}
		a.num++
		if err == nil { // ended by its newline
			n--
			if len(buf) > 0 && buf[len(buf)-1] == '\n' {
				buf = buf[:len(buf)-1]
			}
		}
		if n > int64(a.max) {
			return "", a.num, &LineTooLongError{Len: n, Max: a.max, Prefix: string(buf[:min(len(buf), 40, a.max)])}
		}
		return string(buf), a.num, nil
	}
}
