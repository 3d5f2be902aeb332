package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
)

// keys are the console's key bindings. Action bindings are disabled in
// read-only mode, which both hides them from the help and ignores them.
type keys struct {
	// global
	Views, NextView, PrevView, Help, Quit, Refresh, Log key.Binding
	// lists
	Up, Down, PgUp, PgDown, Home, End, Filter, Clear key.Binding
	// namespace / spaces
	Open, Back, Sort, Reverse                     key.Binding
	Pin, Unpin, MarkMig, MarkPurge, Reloc, Remove key.Binding
	Stage, Migrate                                key.Binding
	// queues
	Cancel, Wake, PrioUp, PrioDown key.Binding
	// audit, daemons, palette
	NewAudit, Mark, Fix, FixAll, Stop, Palette key.Binding
	// sites
	Probe key.Binding
	// dialogs
	Confirm, Abort key.Binding
}

// newKeys returns the default bindings with custom's overrides applied
// (action name -> keys, from [tui.keys] of the configuration, validated
// when it was loaded; unknown names are ignored here).
func newKeys(readOnly bool, custom map[string][]string) keys {
	b := key.NewBinding
	k := keys{
		Views:    b(key.WithKeys("1", "2", "3", "4", "5"), key.WithHelp("1-5", "view")),
		NextView: b(key.WithKeys("tab"), key.WithHelp("tab", "next view")),
		PrevView: b(key.WithKeys("shift+tab"), key.WithHelp("S-tab", "prev view")),
		Help:     b(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     b(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Refresh:  b(key.WithKeys("ctrl+r"), key.WithHelp("^r", "refresh")),
		Log:      b(key.WithKeys("L"), key.WithHelp("L", "action log")),

		Up:     b(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:   b(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PgUp:   b(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PgDown: b(key.WithKeys("pgdown", "ctrl+f", " "), key.WithHelp("pgdn", "page down")),
		Home:   b(key.WithKeys("home", "g"), key.WithHelp("g", "first")),
		End:    b(key.WithKeys("end", "G"), key.WithHelp("G", "last")),
		Filter: b(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Clear:  b(key.WithKeys("esc"), key.WithHelp("esc", "clear")),

		Open:    b(key.WithKeys("enter", "right", "l"), key.WithHelp("enter", "open")),
		Back:    b(key.WithKeys("backspace", "left", "h"), key.WithHelp("bksp", "up dir")),
		Sort:    b(key.WithKeys("o"), key.WithHelp("o", "sort")),
		Reverse: b(key.WithKeys("O"), key.WithHelp("O", "reverse")),

		Pin:       b(key.WithKeys("p"), key.WithHelp("p", "pin")),
		Unpin:     b(key.WithKeys("u"), key.WithHelp("u", "unpin")),
		MarkMig:   b(key.WithKeys("m"), key.WithHelp("m", "mark -m")),
		MarkPurge: b(key.WithKeys("M"), key.WithHelp("M", "mark -p")),
		Reloc:     b(key.WithKeys("R"), key.WithHelp("R", "relocate")),
		Remove:    b(key.WithKeys("d", "delete"), key.WithHelp("d", "remove")),
		Stage:     b(key.WithKeys("S"), key.WithHelp("S", "stage")),
		Migrate:   b(key.WithKeys("N"), key.WithHelp("N", "migrate now")),

		Cancel:   b(key.WithKeys("c"), key.WithHelp("c", "cancel req")),
		Wake:     b(key.WithKeys("w"), key.WithHelp("w", "wake daemon")),
		PrioUp:   b(key.WithKeys("+", "="), key.WithHelp("+", "raise prty")),
		PrioDown: b(key.WithKeys("-"), key.WithHelp("-", "lower prty")),

		NewAudit: b(key.WithKeys("a"), key.WithHelp("a", "run audit")),
		Mark:     b(key.WithKeys("x"), key.WithHelp("x", "mark")),
		Fix:      b(key.WithKeys("f"), key.WithHelp("f", "fix")),
		FixAll:   b(key.WithKeys("F"), key.WithHelp("F", "fix all")),
		Stop:     b(key.WithKeys("s"), key.WithHelp("s", "stop/resume")),
		Palette:  b(key.WithKeys(":"), key.WithHelp(":", "command")),
		Probe:    b(key.WithKeys("r"), key.WithHelp("r", "probe again")),

		Confirm: b(key.WithKeys("enter", "y"), key.WithHelp("enter/y", "confirm")),
		Abort:   b(key.WithKeys("esc", "n"), key.WithHelp("esc/n", "cancel")),
	}
	acts := k.actions()
	for name, ks := range custom {
		if b, ok := acts[name]; ok && len(ks) > 0 {
			b.SetKeys(ks...)
			b.SetHelp(helpKeys(ks), b.Help().Desc)
		}
	}
	if readOnly {
		for _, a := range []*key.Binding{&k.Pin, &k.Unpin, &k.MarkMig, &k.MarkPurge, &k.Reloc, &k.Remove, &k.Stage, &k.Migrate,
			&k.Cancel, &k.Wake, &k.PrioUp, &k.PrioDown, &k.Mark, &k.Fix, &k.FixAll, &k.Stop, &k.Palette} {
			a.SetEnabled(false)
		}
	}
	return k
}

// actions maps the action names of [tui.keys] (config.TUIActions) onto
// the bindings. The view switch keys 1-5 are not configurable: the digit
// is the view number.
func (k *keys) actions() map[string]*key.Binding {
	return map[string]*key.Binding{
		"next_view": &k.NextView, "prev_view": &k.PrevView, "help": &k.Help, "quit": &k.Quit, "refresh": &k.Refresh, "log": &k.Log, "palette": &k.Palette,
		"up": &k.Up, "down": &k.Down, "page_up": &k.PgUp, "page_down": &k.PgDown, "first": &k.Home, "last": &k.End, "filter": &k.Filter, "clear": &k.Clear,
		"open": &k.Open, "back": &k.Back, "sort": &k.Sort, "reverse": &k.Reverse,
		"pin": &k.Pin, "unpin": &k.Unpin, "mark_migratable": &k.MarkMig, "mark_purgeable": &k.MarkPurge, "relocate": &k.Reloc, "remove": &k.Remove,
		"stage": &k.Stage, "migrate": &k.Migrate,
		"cancel": &k.Cancel, "wake": &k.Wake, "priority_up": &k.PrioUp, "priority_down": &k.PrioDown,
		"run_audit": &k.NewAudit, "mark": &k.Mark, "fix": &k.Fix, "fix_all": &k.FixAll, "stop": &k.Stop, "probe": &k.Probe,
		"confirm": &k.Confirm, "abort": &k.Abort,
	}
}

// helpKeys is the help label of configured keys: "p/P", with blank shown
// as "space".
func helpKeys(ks []string) string {
	out := make([]string, len(ks))
	for i, s := range ks {
		if s == " " {
			s = "space"
		}
		out[i] = s
	}
	return strings.Join(out, "/")
}

// styles of the console. Every piece of meaning also has a non-colour
// cue (a cursor glyph, a marker, a word), so NO_COLOR loses nothing.
type styles struct {
	Tab, ActiveTab, Title, Header, Selected, Dim, Err, OK, Warn, Crit, Status, Box lipgloss.Style
}

func newStyles() styles {
	return styles{
		Tab:       lipgloss.NewStyle().Padding(0, 1),
		ActiveTab: lipgloss.NewStyle().Bold(true).Reverse(true),
		Title:     lipgloss.NewStyle().Bold(true),
		Header:    lipgloss.NewStyle().Bold(true).Underline(true),
		Selected:  lipgloss.NewStyle().Reverse(true),
		Dim:       lipgloss.NewStyle().Faint(true),
		Err:       lipgloss.NewStyle().Foreground(lipgloss.Color("9")).Bold(true),
		OK:        lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		Warn:      lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		Crit:      lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		Status:    lipgloss.NewStyle(),
		Box:       lipgloss.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 1),
	}
}
