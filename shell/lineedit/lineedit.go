// Package lineedit puts the admin shell on a terminal: a chzyer/readline line
// editor with a persistent history and the shell's own completion
// (Shell.Complete). It is the only part of the command language that
// knows a terminal, so that package shell stays free of it.
package lineedit

import (
	"errors"

	"github.com/chzyer/readline"

	"frm/shell"
)

// New opens a line editor on the terminal for sh's REPL, with the
// history in historyFile (none when "") and completion of commands,
// options, type words, space names and lfns.
func New(sh *shell.Shell, historyFile string) (shell.LineReader, error) {
	rl, err := readline.NewEx(&readline.Config{
		Prompt:            sh.Name + "> ",
		HistoryFile:       historyFile,
		HistoryLimit:      1000,
		AutoComplete:      completer{sh},
		InterruptPrompt:   "^C",
		EOFPrompt:         "exit",
		HistorySearchFold: true,
		Stdout:            sh.Err,
		Stderr:            sh.Err,
	})
	if err != nil {
		return nil, err
	}
	return lineReader{rl}, nil
}

// lineReader maps readline's interrupt to the shell's.
type lineReader struct{ *readline.Instance }

func (l lineReader) Readline() (string, error) {
	line, err := l.Instance.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		err = shell.ErrInterrupt
	}
	return line, err
}

// completer adapts Shell.Complete to readline.AutoCompleter: suffixes to
// append, and the length in runes of the word they complete.
type completer struct{ sh *shell.Shell }

func (c completer) Do(line []rune, pos int) ([][]rune, int) {
	suffixes, word := c.sh.Complete(string(line[:pos]))
	out := make([][]rune, len(suffixes))
	for i, s := range suffixes {
		out[i] = []rune(s)
	}
	return out, len([]rune(word))
}
