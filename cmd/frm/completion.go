package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"frm/shell"
)

const completionUsage = `Usage: frm completion bash|zsh|fish

Prints the completion script of a shell, made from frm's command registry:
frm's subcommands and their options, then for 'frm admin' (and frm_admin)
the admin commands, their options and type words.

  bash:  frm completion bash > /etc/bash_completion.d/frm
         (or: source <(frm completion bash) in ~/.bashrc)
  zsh:   frm completion zsh > "${fpath[1]}/_frm"
         (or: source <(frm completion zsh) after compinit)
  fish:  frm completion fish > ~/.config/fish/completions/frm.fish
`

// completionShells are the shells frm completion writes a script for.
var completionShells = map[string]func() string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}

func completionMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, completionUsage)
		return 0
	}
	if len(args) != 1 {
		fmt.Fprintf(stderr, "frm completion: give one shell: bash, zsh or fish\n\n%s", completionUsage)
		return 2
	}
	gen, ok := completionShells[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "frm completion: no completion for %q (bash, zsh or fish)\n", args[0])
		return 2
	}
	fmt.Fprint(stdout, gen())
	return 0
}

// ---- the logic bash and zsh share ----

// shWords quotes words for a POSIX shell list.
func shWords(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// adminCmdCase is a shell case statement printing the admin command a
// word names, abbreviations included, in the registry's matching order.
func adminCmdCase(indent string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%scase \"$1\" in\n", indent)
	for _, c := range shell.Commands() {
		fmt.Fprintf(&b, "%s    %s) echo %s ;;\n", indent, strings.Join(c.Prefixes(), "|"), c.Name)
	}
	fmt.Fprintf(&b, "%sesac\n", indent)
	return b.String()
}

// adminOptNames are c's options as typed.
func adminOptNames(c shell.CommandInfo) []string {
	var n []string
	for _, o := range c.Options {
		n = append(n, "-"+o.Name)
	}
	return n
}

// valueOptPatterns are the words that are c's options taking a value,
// every accepted abbreviation included.
func valueOptPatterns(c shell.CommandInfo) []string {
	var p []string
	for _, o := range c.Options {
		if !o.HasValue {
			continue
		}
		for n := len(o.Abbrev); n <= len(o.Name); n++ {
			p = append(p, "-"+o.Name[:n])
		}
	}
	return p
}

// flagNames are a subcommand's options.
func flagNames(c topCommand) []string {
	var n []string
	for _, f := range c.flags {
		n = append(n, f.name)
	}
	return n
}

// topNames are the subcommands offered after "frm".
func topNames() []string {
	var n []string
	for _, c := range topCommands {
		n = append(n, c.name)
	}
	return n
}

// adminTop is the admin entry of topCommands.
func adminTop() topCommand {
	c, _ := findTop("admin")
	return *c
}

// shCore is the completion logic of bash and zsh, in the shell language
// both speak: __frm_complete CWORD WORD... prints the candidates for word
// number CWORD (0 = the program), one a line; __FILES__ and __DIRS__ ask
// the shell for file or directory names. The caller filters by prefix.
func shCore() string {
	var b strings.Builder
	b.WriteString(`__frm_admin_cmd() {
` + adminCmdCase("    ") + `}

__frm_complete() {
    local cword=$1
    shift
    local prog=${1##*/} cur="" prev="" sub="" first=0 idx=0 w
    for w in "$@"; do
        (( idx == cword )) && cur=$w
        (( idx == cword - 1 )) && prev=$w
        idx=$((idx + 1))
    done
    case "$prog" in
        frm_admin) sub=admin ;;
        frm_xfragent|frm_pstga) sub=pstga ;;
        *)
            if (( cword == 1 )); then
                printf '%s\n' ` + shWords(topNames()) + `
                return
            fi
            sub=$2
            first=1
            ;;
    esac
    case "$sub" in
`)
	for _, c := range topCommands {
		if len(c.aliases) > 0 {
			fmt.Fprintf(&b, "        %s) sub=%s ;;\n", strings.Join(c.aliases, "|"), c.name)
		}
	}
	b.WriteString(`    esac
    # the value of an option
    case "$sub $prev" in
`)
	shValueCases(&b)
	b.WriteString(`    esac
    if [[ $sub == admin ]]; then
        __frm_complete_admin "$cword" "$first" "$cur" "$prev" "$@"
        return
    fi
    # the words after the subcommand: is its own subcommand given?
    local given="" skip=0
    idx=0
    for w in "$@"; do
        if (( idx > first && idx < cword )); then
            if (( skip )); then
                skip=0
            else
                case "$w" in
                    -*) ;;
                    *) [[ -z $given ]] && given=$w ;;
                esac
            fi
        fi
        idx=$((idx + 1))
    done
    if [[ $cur == -* ]]; then
        case "$sub" in
`)
	for _, c := range topCommands {
		if len(c.flags) > 0 {
			fmt.Fprintf(&b, "            %s) printf '%%s\\n' %s ;;\n", c.name, shWords(flagNames(c)))
		}
	}
	b.WriteString(`        esac
        return
    fi
    case "$sub" in
`)
	for _, c := range topCommands {
		if len(c.subs) == 0 && c.args == "" {
			continue
		}
		fmt.Fprintf(&b, "        %s)\n", c.name)
		switch {
		case len(c.subs) > 0 && c.args != "":
			fmt.Fprintf(&b, "            if [[ -z $given ]]; then printf '%%s\\n' %s; else echo %s; fi ;;\n", shWords(c.subs), argsMarker(c.args))
		case len(c.subs) > 0:
			fmt.Fprintf(&b, "            [[ -z $given ]] && printf '%%s\\n' %s ;;\n", shWords(c.subs))
		default:
			fmt.Fprintf(&b, "            echo %s ;;\n", argsMarker(c.args))
		}
	}
	shCoreAdmin(&b)
	return b.String()
}

// shValueCases writes the cases of __frm_complete that complete the value
// of a subcommand's option.
func shValueCases(b *strings.Builder) {
	var files, dirs, free []string
	choices := map[string][]string{}
	for _, c := range topCommands {
		for _, f := range c.flags {
			key := c.name + " " + f.name
			switch {
			case f.value == "":
			case f.value == "file":
				files = append(files, key)
			case f.value == "dir":
				dirs = append(dirs, key)
			case f.choices() != nil:
				choices[strings.Join(f.choices(), " ")] = append(choices[strings.Join(f.choices(), " ")], key)
			default:
				free = append(free, key)
			}
		}
	}
	if len(files) > 0 {
		fmt.Fprintf(b, "        %s) echo __FILES__; return ;;\n", quotedAlternatives(files))
	}
	if len(dirs) > 0 {
		fmt.Fprintf(b, "        %s) echo __DIRS__; return ;;\n", quotedAlternatives(dirs))
	}
	var keys []string
	for k := range choices {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "        %s) printf '%%s\\n' %s; return ;;\n", quotedAlternatives(choices[k]), shWords(strings.Fields(k)))
	}
	if len(free) > 0 {
		fmt.Fprintf(b, "        %s) return ;;\n", quotedAlternatives(free))
	}
}

// shCoreAdmin writes __frm_complete_admin: the admin language.
func shCoreAdmin(b *strings.Builder) {
	admin := adminTop()
	var adminValueFlags []string
	for _, f := range admin.flags {
		if f.value != "" {
			adminValueFlags = append(adminValueFlags, f.name)
		}
	}
	b.WriteString(`    esac
}

# __frm_complete_admin CWORD FIRST CUR PREV WORD...: the admin language
# in words FIRST+1 on (after "frm admin", or frm_admin).
__frm_complete_admin() {
    local cword=$1 first=$2 cur=$3 prev=$4
    shift 4
    local cmd="" n=0 idx=0 skip=0 w
    for w in "$@"; do
        if (( idx > first && idx < cword )); then
            if (( skip )); then
                skip=0
            elif [[ -z $cmd ]]; then
                case "$w" in
                    ` + strings.Join(adminValueFlags, "|") + `) skip=1 ;;
                    -*) ;;
                    *)
                        cmd=$(__frm_admin_cmd "$w")
                        [[ -z $cmd ]] && return
                        ;;
                esac
            else
                case "$cmd $w" in
`)
	for _, c := range shell.Commands() {
		if p := valueOptPatterns(c); len(p) > 0 {
			var alts []string
			for _, o := range p {
				alts = append(alts, c.Name+" "+o)
			}
			fmt.Fprintf(b, "                    %s) skip=1 ;;\n", quotedAlternatives(alts))
		}
	}
	b.WriteString(`                    *" -"*) ;;
                    *) n=$((n + 1)) ;;
                esac
            fi
        fi
        idx=$((idx + 1))
    done
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            printf '%s\n' ` + shWords(flagNames(admin)) + `
        else
            printf '%s\n' ` + shWords(adminNames()) + `
        fi
        return
    fi
    (( skip )) && return
    if [[ $cur == -* ]]; then
        case "$cmd" in
`)
	for _, c := range shell.Commands() {
		if len(c.Options) > 0 {
			fmt.Fprintf(b, "            %s) printf '%%s\\n' %s ;;\n", c.Name, shWords(adminOptNames(c)))
		}
	}
	b.WriteString(`        esac
        return
    fi
    (( n == 0 )) || return
    case "$cmd" in
`)
	for _, c := range shell.Commands() {
		if len(c.Subwords) > 0 {
			fmt.Fprintf(b, "        %s) printf '%%s\\n' %s ;;\n", c.Name, shWords(c.Subwords))
		}
	}
	b.WriteString(`    esac
}
`)
}

// adminNames are the admin commands offered, by full name.
func adminNames() []string {
	var n []string
	for _, c := range shell.Commands() {
		n = append(n, c.Name)
	}
	return n
}

// quotedAlternatives is a case pattern matching any of ws exactly.
func quotedAlternatives(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		q[i] = `"` + w + `"`
	}
	return strings.Join(q, "|")
}

func argsMarker(kind string) string {
	if kind == "dir" {
		return "__DIRS__"
	}
	return "__FILES__"
}

const completionHeader = `# %s completion for frm, generated by 'frm completion %s' from frm's
# command registry (cmd/frm topCommands, shell.Commands): do not edit,
# generate it again.
`

func bashCompletion() string {
	return fmt.Sprintf(completionHeader, "bash", "bash") + shCore() + `
_frm() {
    local cur=${COMP_WORDS[COMP_CWORD]} c
    local IFS=$'\n'
    local -a out
    out=($(__frm_complete "$COMP_CWORD" "${COMP_WORDS[@]}"))
    COMPREPLY=()
    for c in "${out[@]}"; do
        case "$c" in
            __FILES__) compopt -o filenames 2>/dev/null; COMPREPLY+=($(compgen -f -- "$cur")) ;;
            __DIRS__) compopt -o filenames 2>/dev/null; COMPREPLY+=($(compgen -d -- "$cur")) ;;
            *) [[ $c == "$cur"* ]] && COMPREPLY+=("$c") ;;
        esac
    done
}
complete -F _frm frm frm_admin frm_xfragent
`
}

func zshCompletion() string {
	return "#compdef frm frm_admin frm_xfragent\n" + fmt.Sprintf(completionHeader, "zsh", "zsh") + shCore() + `
_frm() {
    local -a out cands
    local c
    out=("${(@f)$(__frm_complete $((CURRENT - 1)) "${words[@]}")}")
    for c in "${out[@]}"; do
        case "$c" in
            __FILES__) _files ;;
            __DIRS__) _files -/ ;;
            '') ;;
            *) cands+=("$c") ;;
        esac
    done
    (( ${#cands} )) && compadd -a cands
    return 0
}

if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
    _frm "$@"
elif (( $+functions[compdef] )); then
    compdef _frm frm frm_admin frm_xfragent
fi
`
}

// fishQuote quotes s for fish.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// fishOpt is the complete(1) option naming flag: -s x, -l name, -o name.
func fishOpt(flag string) string {
	switch {
	case strings.HasPrefix(flag, "--"):
		return "-l " + flag[2:]
	case len(flag) == 2:
		return "-s " + flag[1:]
	}
	return "-o " + flag[1:]
}

func fishCompletion() string {
	var b strings.Builder
	fmt.Fprintf(&b, completionHeader, "fish", "fish")
	admin := adminTop()
	var valueFlags []string
	for _, f := range admin.flags {
		if f.value != "" {
			valueFlags = append(valueFlags, f.name)
		}
	}
	b.WriteString(`
# __frm_admin_words: the words after "frm admin" (or frm_admin) on the
# line before the cursor; fails elsewhere.
function __frm_admin_words
    set -l toks (commandline -opc)
    set -l prog (string replace -r '.*/' '' -- $toks[1])
    set -e toks[1]
    if test "$prog" = frm; and test "$toks[1]" = admin
        set -e toks[1]
    else if test "$prog" != frm_admin
        return 1
    end
    for w in $toks
        echo $w
    end
    return 0
end

# __frm_admin_cmd: the admin command on the line ("" before one); with
# an argument N, succeeds only when N words follow the command.
function __frm_admin_cmd
    set -l words (__frm_admin_words); or return 1
    set -l cmd ""
    set -l n 0
    set -l skip 0
    for w in $words
        if test $skip = 1
            set skip 0
            continue
        end
        if test -z "$cmd"
            switch $w
                case ` + strings.Join(valueFlags, " ") + `
                    set skip 1
                case '-*'
                case '*'
                    set cmd (__frm_admin_name $w)
                    test -n "$cmd"; or return 1
            end
        else
            switch "$cmd $w"
`)
	for _, c := range shell.Commands() {
		if p := valueOptPatterns(c); len(p) > 0 {
			var alts []string
			for _, o := range p {
				alts = append(alts, fishQuote(c.Name+" "+o))
			}
			fmt.Fprintf(&b, "                case %s\n                    set skip 1\n", strings.Join(alts, " "))
		}
	}
	b.WriteString(`                case '* -*'
                case '*'
                    set n (math $n + 1)
            end
        end
    end
    if set -q argv[1]
        test -n "$cmd"; and test $n = $argv[1]; or return 1
    end
    echo $cmd
end

function __frm_admin_name
    switch $argv[1]
`)
	fishAdminNameCases(&b)
	b.WriteString(`    end
end

function __frm_admin_is
    set -l c (__frm_admin_cmd); or return 1
    test "$c" = "$argv[1]"
end

function __frm_admin_needs_cmd
    set -l c (__frm_admin_cmd); or return 1
    test -z "$c"
end

function __frm_no_sub_yet
    set -l toks (commandline -opc)
    set -e toks[1..2]
    for w in $toks
        contains -- $w $argv; and return 1
    end
    return 0
end

for prog in frm frm_admin frm_xfragent
    complete -c $prog -f
end
`)
	fishCompletes(&b, admin)
	return b.String()
}

// fishCompletes writes the complete(1) lines: frm's subcommands, their
// options and arguments, then the admin language.
func fishCompletes(b *strings.Builder, admin topCommand) {
	for _, c := range topCommands {
		fmt.Fprintf(b, "complete -c frm -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.summary))
	}
	for _, c := range topCommands {
		if c.name == "admin" {
			continue
		}
		cond := "__fish_seen_subcommand_from " + strings.Join(append([]string{c.name}, c.aliases...), " ")
		if len(c.subs) > 0 {
			fmt.Fprintf(b, "complete -c frm -n %s -a %s\n", fishQuote(cond+"; and __frm_no_sub_yet "+strings.Join(c.subs, " ")), fishQuote(strings.Join(c.subs, " ")))
		}
		switch {
		case c.args != "" && len(c.subs) > 0:
			fmt.Fprintf(b, "complete -c frm -n %s %s\n", fishQuote(cond+"; and not __frm_no_sub_yet "+strings.Join(c.subs, " ")), fishArgs(c.args))
		case c.args != "":
			fmt.Fprintf(b, "complete -c frm -n %s %s\n", fishQuote(cond), fishArgs(c.args))
		}
		for _, f := range c.flags {
			fmt.Fprintf(b, "complete -c frm -n %s %s%s\n", fishQuote(cond), fishOpt(f.name), fishValue(f))
		}
		if c.name == "pstga" {
			for _, f := range c.flags {
				fmt.Fprintf(b, "complete -c frm_xfragent %s%s\n", fishOpt(f.name), fishValue(f))
			}
		}
	}
	// the admin language, for frm admin and frm_admin
	b.WriteString("for prog in frm frm_admin\n")
	fmt.Fprintf(b, "    complete -c $prog -n %s -a %s\n", "__frm_admin_needs_cmd", fishQuote(strings.Join(adminNames(), " ")))
	for _, f := range admin.flags {
		fmt.Fprintf(b, "    complete -c $prog -n %s %s%s\n", "__frm_admin_needs_cmd", fishOpt(f.name), fishValue(f))
	}
	for _, c := range shell.Commands() {
		cond := fishQuote("__frm_admin_is " + c.Name)
		for _, o := range c.Options {
			flag := "-" + o.Name
			req := ""
			if o.HasValue {
				req = " -x"
			}
			fmt.Fprintf(b, "    complete -c $prog -n %s %s%s\n", cond, fishOpt(flag), req)
		}
		if len(c.Subwords) > 0 {
			fmt.Fprintf(b, "    complete -c $prog -n %s -a %s\n", fishQuote("__frm_admin_cmd 0 >/dev/null; and __frm_admin_is "+c.Name), fishQuote(strings.Join(c.Subwords, " ")))
		}
	}
	b.WriteString("end\n")
}

// fishAdminNameCases writes the cases of __frm_admin_name: every word
// that names an admin command.
func fishAdminNameCases(b *strings.Builder) {
	for _, c := range shell.Commands() {
		var qs []string
		for _, p := range c.Prefixes() {
			qs = append(qs, fishQuote(p))
		}
		fmt.Fprintf(b, "        case %s\n            echo %s\n", strings.Join(qs, " "), c.Name)
	}
}

// fishArgs completes positional file or directory arguments.
func fishArgs(kind string) string {
	if kind == "dir" {
		return "-x -a '(__fish_complete_directories)'"
	}
	return "-F"
}

// fishValue is what complete(1) adds for a flag's value.
func fishValue(f topFlag) string {
	switch {
	case f.value == "":
		return ""
	case f.value == "file":
		return " -r -F"
	case f.value == "dir":
		return " -r -a '(__fish_complete_directories)'"
	case f.choices() != nil:
		return " -x -a " + fishQuote(strings.Join(f.choices(), " "))
	}
	return " -x"
}
