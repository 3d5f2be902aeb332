package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/chzyer/readline"

	"frm/core/site"
)

// LineReader is what the REPL needs from a line editor; chzyer/readline
// provides it, tests use a script.
type LineReader interface {
	Readline() (string, error)
	SetPrompt(prompt string)
	Close() error
}

// ErrInterrupt is returned by a LineReader when Ctrl-C is typed at the
// prompt: the line is dropped and the shell goes on.
var ErrInterrupt = readline.ErrInterrupt

// NewReadline opens a readline editor on the terminal with a persistent
// history file and completion of commands, options, type words, space names
// and lfns.
func (sh *Shell) NewReadline(historyFile string) (LineReader, error) {
	return readline.NewEx(&readline.Config{
		Prompt:            sh.Name + "> ",
		HistoryFile:       historyFile,
		HistoryLimit:      1000,
		AutoComplete:      &completer{sh: sh},
		InterruptPrompt:   "^C",
		EOFPrompt:         "exit",
		HistorySearchFold: true,
		Stdout:            sh.Err,
		Stderr:            sh.Err,
	})
}

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

// completer implements readline.AutoCompleter.
type completer struct{ sh *Shell }

// Do returns the completions of the word before pos (as suffixes) and the
// length of that word.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	text := string(line[:pos])
	words := strings.Fields(text)
	cur := ""
	if !strings.HasSuffix(text, " ") && len(words) > 0 {
		cur, words = words[len(words)-1], words[:len(words)-1]
	}
	cands := c.candidates(words, cur)
	sort.Strings(cands)
	var out [][]rune
	for _, s := range cands {
		if strings.HasPrefix(s, cur) && s != cur {
			out = append(out, []rune(s[len(cur):]))
		}
	}
	return out, len([]rune(cur))
}

func (c *completer) candidates(before []string, cur string) []string {
	if len(before) == 0 {
		return CommandNames()
	}
	cmd, ok := lookup(before[0])
	if !ok {
		return nil
	}
	if strings.HasPrefix(cur, "-") {
		return optionNames(cmd)
	}
	if strings.HasPrefix(cur, "/") {
		return c.lfns(cur)
	}
	var positional []string
	for _, w := range before[1:] {
		if !strings.HasPrefix(w, "-") {
			positional = append(positional, w)
		}
	}
	if len(cmd.subs) > 0 && len(positional) == 0 {
		return cmd.subs
	}
	wantSpace := cmd.name == "reloc" && len(positional) == 1 ||
		cmd.name == "audit" && len(positional) == 1 && positional[0] != "names" ||
		cmd.name == "df" || cmd.name == "query" && len(positional) == 1 && positional[0] == "usage"
	if wantSpace && c.sh.Site != nil {
		var n []string
		for _, sp := range c.sh.Site.Spaces.All() {
			n = append(n, sp.Name)
		}
		return n
	}
	return nil
}

// lfns completes a logical name from the namespace directory it is in.
func (c *completer) lfns(cur string) []string {
	if c.sh.Site == nil {
		return nil
	}
	dir, _ := path.Split(cur)
	lfn, err := c.sh.Site.Clean(dir)
	if err != nil {
		return nil
	}
	f, err := os.Open(c.sh.Site.PFN(lfn))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	for {
		ents, err := f.ReadDir(1024)
		for _, e := range ents {
			n := dir + e.Name()
			if e.IsDir() {
				n += "/"
			}
			out = append(out, n)
		}
		if err != nil || len(out) > 5000 {
			break
		}
	}
	return out
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
