package purge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// defaultPolVars are the values sent to the policy program when
// purge.polprog_vars is not set (xrootd's default).
var defaultPolVars = []string{"sname", "pfn", "fsize", "atime", "mtime"}

// polValues are the values a policy program line may carry.
type polValues struct {
	sname, pfn                string
	size, atime, ctime, mtime int64
	fspace, tspace, usage     int64
}

// polLine renders one request line: the configured variables separated by
// blanks (no newline).
func polLine(vars []string, v polValues) string {
	parts := make([]string, 0, len(vars))
	for _, name := range vars {
		switch name {
		case "atime":
			parts = append(parts, strconv.FormatInt(v.atime, 10))
		case "ctime":
			parts = append(parts, strconv.FormatInt(v.ctime, 10))
		case "fname":
			parts = append(parts, filepath.Base(v.pfn))
		case "fsize":
			parts = append(parts, strconv.FormatInt(v.size, 10))
		case "fspace":
			parts = append(parts, strconv.FormatInt(v.fspace, 10))
		case "mtime":
			parts = append(parts, strconv.FormatInt(v.mtime, 10))
		case "pfn":
			parts = append(parts, v.pfn)
		case "sname":
			parts = append(parts, v.sname)
		case "tspace":
			parts = append(parts, strconv.FormatInt(v.tspace, 10))
		case "usage":
			parts = append(parts, strconv.FormatInt(v.usage, 10))
		}
	}
	return strings.Join(parts, " ")
}

// polProg is a running policy program: one line per candidate on its
// standard input, one answer line per candidate from its standard output.
// It is started once per Execute, directly (argv, never through a shell).
type polProg struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	lines   chan string
	timeout time.Duration
	cancel  context.CancelFunc
	waited  chan struct{}
}

func startPolProg(ctx context.Context, argv []string, stderr io.Writer, timeout time.Duration) (*polProg, error) {
	if len(argv) == 0 {
		return nil, errors.New("policy program: none configured")
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	pctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(pctx, argv[0], argv[1:]...)
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("policy program %s: %w", argv[0], err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("policy program %s: %w", argv[0], err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("policy program %s: %w", argv[0], err)
	}
	p := &polProg{cmd: cmd, in: in, lines: make(chan string, 1), timeout: timeout, cancel: cancel, waited: make(chan struct{})}
	// One goroutine reads the answers and, once the program's output
	// ends, reaps it: Wait must not close the pipe before the last answer
	// has been read.
	go func() {
		defer close(p.waited)
		defer cmd.Wait()
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- strings.TrimSpace(sc.Text()):
			case <-pctx.Done():
				return // the program is being killed
			}
		}
	}()
	return p, nil
}

// ask sends one request line and returns the answer line.
func (p *polProg) ask(ctx context.Context, line string) (string, error) {
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		return "", fmt.Errorf("policy program: not running (%w)", err)
	}
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case ans, ok := <-p.lines:
		if !ok {
			return "", errors.New("policy program: exited without answering")
		}
		return ans, nil
	case <-t.C:
		return "", fmt.Errorf("policy program: no answer within %v", p.timeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// close ends the program: its input is closed (a well-behaved program
// exits at end of input); after a grace period it is killed.
func (p *polProg) close() {
	p.in.Close()
	select {
	case <-p.waited:
	case <-time.After(2 * time.Second):
		p.cancel()
		<-p.waited
	}
	p.cancel()
}
