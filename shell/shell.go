// Package shell is the frm_admin command language over the core engine:
// one command registry serving one-shot argv commands, batch commands on
// standard input, an interactive REPL, the TUI's command palette,
// completion (Complete) and help. It has no terminal code: the REPL's
// line editor is package shell/lineedit, so faces that only run commands
// link none. Running daemons are reached through package control.
// Output is frm_admin's text (results on stdout, diagnostics on stderr) or
// one JSON document per command. The shell only parses and prints; all work
// is done by package site.
package shell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"

	"frm/core/site"
)

// Shell runs frm_admin commands against one site.
type Shell struct {
	// Name prefixes diagnostics ("frm_admin: ...").
	Name string
	Out  io.Writer // results
	Err  io.Writer // diagnostics, questions, progress
	// JSON selects one JSON document per command on Out.
	JSON bool
	// Term is true when Err is a terminal: progress lines are shown.
	Term bool
	// Echo prints each batch line before running it.
	Echo bool

	// Site is the site commands work on. When nil, SiteErr says why and
	// commands that need a site fail with it.
	Site    *site.Site
	SiteErr error

	// Prompter answers questions; set per mode by the Run functions.
	Prompter site.Prompter

	mu            sync.Mutex // guards progressShown and writes to Err from the progress goroutine
	progressShown bool
	quit          bool

	// buf batches result lines: a million-line find must not cost a
	// million write system calls. It is flushed after every command and
	// before every question, so nothing is held back from a person.
	buf *bufio.Writer
}

// out is where results are written.
func (sh *Shell) out() *bufio.Writer {
	if sh.buf == nil {
		sh.buf = bufio.NewWriterSize(sh.Out, 64<<10)
	}
	return sh.buf
}

// flush writes buffered results.
func (sh *Shell) flush() {
	if sh.buf != nil {
		sh.buf.Flush()
	}
}

// Exec runs one command (already split into words) and returns its exit
// status. ctx cancellation (Ctrl-C) stops long commands cleanly.
func (sh *Shell) Exec(ctx context.Context, words []string) int {
	if len(words) == 0 {
		return ExitOK
	}
	defer sh.flush()
	cmd, ok := lookup(words[0])
	if !ok {
		r := sh.newReport(words[0], words[1:])
		r.fail(usagef("Invalid command - %s", words[0]))
		r.done(ExitUsage, nil)
		r.close()
		return ExitUsage
	}
	r := sh.newReport(cmd.name, words[1:])
	defer r.close()
	for _, a := range words[1:] {
		if a == "-h" || a == "--help" {
			r.result(cmd.usage, map[string]string{"usage": cmd.usage})
			r.done(ExitOK, nil)
			return ExitOK
		}
	}
	if cmd.needSite && sh.Site == nil {
		r.fail(sh.SiteErr)
		r.done(ExitConfig, nil)
		return ExitConfig
	}
	err := cmd.run(ctx, sh, r, cmd, words[1:])
	var ue *usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		r.fail(err)
		r.done(ExitUsage, nil)
	case ctx.Err() != nil:
		r.fail(errors.New("interrupted"))
		r.done(ExitInterrupted, r.summary)
	default:
		r.fail(err)
		if r.status == ExitOK {
			r.status = ExitError
		}
	}
	return r.status
}

// worst combines statuses: the most severe wins (interrupted, config,
// partial, usage, error).
func worst(a, b int) int {
	rank := func(s int) int {
		switch s {
		case ExitOK:
			return 0
		case ExitPartial:
			return 1
		case ExitUsage:
			return 2
		case ExitError:
			return 3
		case ExitConfig:
			return 4
		}
		return 5
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// RunArgs runs one command given on the command line. Questions are asked
// on stderr and answered from stdin, as frm_admin does (so `echo y | frm
// admin rm -r /x` works); at end of input the default answer is taken.
func (sh *Shell) RunArgs(ctx context.Context, words []string, in io.Reader) int {
	if sh.Prompter == nil {
		sh.Prompter = &linePrompter{sh: sh, in: bufio.NewReader(in)}
	}
	return sh.Exec(ctx, words)
}

// RunBatch runs commands read from r, one per line ('#' starts a comment,
// blank lines are skipped) until end of input, exit or quit. Questions
// never read from r: a batch run takes each question's default answer and
// says so, so no later command line is ever consumed as an answer. Returns
// the most severe status of all commands.
func (sh *Shell) RunBatch(ctx context.Context, r io.Reader) int {
	if sh.Prompter == nil {
		sh.Prompter = batchPrompter{sh}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	status := ExitOK
	for sc.Scan() && !sh.quit {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if sh.Echo {
			fmt.Fprintf(sh.Err, "%s> %s\n", sh.Name, line)
		}
		status = worst(status, sh.execLine(ctx, line))
		if ctx.Err() != nil {
			return ExitInterrupted
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(sh.Err, "%s: reading commands: %v\n", sh.Name, err)
		status = worst(status, ExitError)
	}
	return status
}

func (sh *Shell) execLine(ctx context.Context, line string) int {
	words, err := Split(line)
	if err != nil {
		r := sh.newReport("", nil)
		r.fail(err)
		r.done(ExitUsage, nil)
		r.close()
		return ExitUsage
	}
	return sh.Exec(ctx, words)
}

// withInterrupt returns a context cancelled by Ctrl-C (SIGINT) until stop
// is called; the REPL uses one per command so Ctrl-C stops the command and
// not the shell.
func withInterrupt(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// linePrompter reads answers from a reader (stdin in argv mode).
type linePrompter struct {
	sh *Shell
	in *bufio.Reader
}

func (p *linePrompter) Ask(q string, def site.Answer) site.Answer {
	for {
		p.sh.flush()
		p.sh.clearProgress()
		fmt.Fprintf(p.sh.Err, "%s: %s %s: ", p.sh.Name, q, choices(def))
		line, err := p.in.ReadString('\n')
		line = strings.TrimSpace(line)
		if line == "" && err != nil {
			fmt.Fprintln(p.sh.Err)
			return def
		}
		if a, ok := parseAnswer(line, def); ok {
			return a
		}
	}
}

// batchPrompter takes the default answer and says so.
type batchPrompter struct{ sh *Shell }

func (p batchPrompter) Ask(q string, def site.Answer) site.Answer {
	p.sh.flush()
	p.sh.clearProgress()
	fmt.Fprintf(p.sh.Err, "%s: %s %s: %s (batch mode takes the default; use -force where offered)\n", p.sh.Name, q, choices(def), answerWord(def))
	return def
}

func choices(def site.Answer) string {
	if def == site.Yes {
		return "(y | n | a)"
	}
	return "(n | y | a)"
}

func answerWord(a site.Answer) string {
	switch a {
	case site.Yes:
		return "y"
	case site.Abort:
		return "a"
	}
	return "n"
}

// parseAnswer accepts any prefix of yes, no or abort; empty is def.
func parseAnswer(s string, def site.Answer) (site.Answer, bool) {
	s = strings.ToLower(s)
	switch {
	case s == "":
		return def, true
	case strings.HasPrefix("yes", s):
		return site.Yes, true
	case strings.HasPrefix("no", s):
		return site.No, true
	case strings.HasPrefix("abort", s):
		return site.Abort, true
	}
	return 0, false
}
