package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"frm/core/site"
)

// LineReader is what the REPL needs from a line editor: package
// shell/lineedit provides one on a terminal (chzyer/readline, with history and
// the shell's completion), tests use a script. The shell itself has no
// terminal code, so faces that only run commands (the TUI's palette) do
// not link a line editor.
type LineReader interface {
	Readline() (string, error)
	SetPrompt(prompt string)
	Close() error
}

// ErrInterrupt is returned by a LineReader when Ctrl-C is typed at the
// prompt: the line is dropped and the shell goes on.
var ErrInterrupt = errors.New("interrupt")

// RunREPL reads commands interactively until an empty line, exit, quit or
// end of input. Ctrl-C at the prompt drops the line; during a command it
// stops the command and returns to the prompt.
func (sh *Shell) RunREPL(ctx context.Context, lr LineReader) int {
	defer lr.Close()
	sh.Prompter = &replPrompter{sh: sh, lr: lr}
	status := ExitOK
	for !sh.quit {
		lr.SetPrompt(sh.Name + "> ")
		line, err := lr.Readline()
		if errors.Is(err, ErrInterrupt) {
			continue
		}
		if err != nil { // io.EOF: Ctrl-D
			break
		}
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		cctx, stop := withInterrupt(ctx)
		st := sh.execLine(cctx, line)
		stop()
		status = worst(status, st)
		if ctx.Err() != nil {
			return ExitInterrupted
		}
	}
	return status
}

// replPrompter asks questions through the line editor.
type replPrompter struct {
	sh *Shell
	lr LineReader
}

func (p *replPrompter) Ask(q string, def site.Answer) site.Answer {
	p.sh.flush()
	p.sh.clearProgress()
	for {
		p.lr.SetPrompt(fmt.Sprintf("%s: %s %s: ", p.sh.Name, q, choices(def)))
		line, err := p.lr.Readline()
		if errors.Is(err, ErrInterrupt) {
			return site.Abort
		}
		if err != nil {
			return def
		}
		if a, ok := parseAnswer(strings.TrimSpace(line), def); ok {
			return a
		}
	}
}

// scriptReader is a LineReader over fixed lines (tests, and a pty-less
// fallback).
type scriptReader struct {
	lines []string
}

func (s *scriptReader) Readline() (string, error) {
	if len(s.lines) == 0 {
		return "", io.EOF
	}
	l := s.lines[0]
	s.lines = s.lines[1:]
	return l, nil
}
func (s *scriptReader) SetPrompt(string) {}
func (s *scriptReader) Close() error     { return nil }
