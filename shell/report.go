package shell

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// JSONSchema is the version of the JSON documents frm admin writes; see
// docs/json.md. It changes only when a field changes meaning or goes away.
const JSONSchema = 1

// Exit statuses. Scripts can trust them; see docs/commands.md.
const (
	ExitOK          = 0
	ExitError       = 1 // the command failed
	ExitUsage       = 2 // unknown command or option, malformed value
	ExitPartial     = 3 // some items failed, the rest was done
	ExitConfig      = 4 // the configuration could not be loaded
	ExitInterrupted = 130
)

// report is the output of one command. Every result is given once with its
// text form and its JSON form, so a command never branches on the output
// mode.
type report struct {
	sh      *Shell
	command string
	args    []string

	started bool // JSON header written
	items   int
	errs    []jsonError
	nErrs   int
	status  int
	summary map[string]any
}

type jsonError struct {
	Message string `json:"message"`
}

// maxJSONErrors bounds the errors kept for the JSON document; the count
// stays exact.
const maxJSONErrors = 1000

func (sh *Shell) newReport(command string, args []string) *report {
	return &report{sh: sh, command: command, args: args}
}

func (r *report) header() {
	if r.started {
		return
	}
	r.started = true
	cmd, _ := json.Marshal(r.command)
	args, _ := json.Marshal(nonNil(r.args))
	fmt.Fprintf(r.sh.out(), `{"schema":%d,"command":%s,"args":%s,"results":[`, JSONSchema, cmd, args)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// result emits one result: text (a line, without newline) in text mode,
// item in JSON mode.
func (r *report) result(text string, item any) {
	if !r.sh.JSON {
		r.sh.clearProgress()
		w := r.sh.out()
		w.WriteString(text)
		w.WriteByte('\n')
		return
	}
	r.header()
	b, err := json.Marshal(item)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	w := r.sh.out()
	if r.items > 0 {
		w.WriteByte(',')
	}
	w.Write(b)
	r.items++
}

// textLine emits a line of the text output only: its data are part of
// an earlier result's JSON.
func (r *report) textLine(text string) {
	if !r.sh.JSON {
		r.result(text, nil)
	}
}

// note emits a line that is neither a result nor an error (a question's
// outcome, a warning) to stderr in both modes.
func (r *report) note(text string) {
	r.sh.flush()
	r.sh.clearProgress()
	fmt.Fprintf(r.sh.Err, "%s: %s\n", r.sh.Name, text)
}

// fail reports an error; the command goes on unless the caller returns.
func (r *report) fail(err error) {
	r.nErrs++
	if r.sh.JSON {
		if len(r.errs) < maxJSONErrors {
			r.errs = append(r.errs, jsonError{Message: err.Error()})
		}
		return
	}
	r.sh.flush()
	r.sh.clearProgress()
	fmt.Fprintf(r.sh.Err, "%s: %s\n", r.sh.Name, err)
}

// done writes the summary (text lines in text mode, fields in JSON mode)
// and sets the status.
func (r *report) done(status int, fields map[string]any, text ...string) {
	r.status = status
	r.summary = fields
	if !r.sh.JSON {
		r.sh.clearProgress()
		for _, t := range text {
			fmt.Fprintln(r.sh.out(), t)
		}
	}
}

// close finishes the JSON document.
func (r *report) close() {
	if !r.sh.JSON {
		return
	}
	r.header()
	doc := struct {
		Summary map[string]any `json:"summary,omitempty"`
		Errors  []jsonError    `json:"errors"`
		NErrors int            `json:"error_count"`
		Status  int            `json:"status"`
	}{r.summary, r.errs, r.nErrs, r.status}
	if doc.Errors == nil {
		doc.Errors = []jsonError{}
	}
	b, _ := json.Marshal(doc)
	// Splice the closing fields after the results array.
	fmt.Fprintf(r.sh.out(), "],%s\n", b[1:])
}

// statusFor is the exit status of a command that did some work and met
// nErrs errors.
func statusFor(done, nErrs int) int {
	switch {
	case nErrs == 0:
		return ExitOK
	case done > 0:
		return ExitPartial
	}
	return ExitError
}

// progress shows "label: N scanned" on a terminal while a scan runs.
type progress struct {
	stop chan struct{}
	done chan struct{}
}

func (sh *Shell) startProgress(label string, n *atomic.Int64) *progress {
	return sh.startProgressFunc(func() string { return fmt.Sprintf("%s: %d entries scanned", label, n.Load()) })
}

// startProgressFunc shows the line line() gives, refreshed five times a
// second, while a long command runs on a terminal.
func (sh *Shell) startProgressFunc(line func() string) *progress {
	p := &progress{stop: make(chan struct{}), done: make(chan struct{})}
	if !sh.Term {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				sh.mu.Lock()
				fmt.Fprintf(sh.Err, "\r%s\033[K", line())
				sh.progressShown = true
				sh.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *progress) end(sh *Shell) {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	sh.clearProgress()
}

func (sh *Shell) clearProgress() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.progressShown {
		fmt.Fprint(sh.Err, "\r\033[K")
		sh.progressShown = false
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
