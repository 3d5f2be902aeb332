package shell

import (
	"slices"
	"strings"
	"testing"
)

// TestCommandsMirrorsTheRegistry: the exported view lists every command
// of the registry, in order, with the abbreviation lookup uses.
func TestCommandsMirrorsTheRegistry(t *testing.T) {
	cs := Commands()
	if len(cs) != len(commands) {
		t.Fatalf("%d commands, registry %d", len(cs), len(commands))
	}
	for i, c := range cs {
		if c.Name != commands[i].name || c.Usage != commands[i].usage {
			t.Errorf("%d: %s, registry %s", i, c.Name, commands[i].name)
		}
		for _, p := range c.Prefixes() {
			if got, ok := lookup(p); !ok || got.name != c.Name {
				t.Errorf("%q should name %s", p, c.Name)
			}
		}
		if len(c.Abbrev) > 1 {
			if got, ok := lookup(c.Abbrev[:len(c.Abbrev)-1]); ok && got.name == c.Name {
				t.Errorf("%s: %q is accepted too", c.Name, c.Abbrev[:len(c.Abbrev)-1])
			}
		}
		if c.Synopsis() == "" {
			t.Errorf("%s: no synopsis in %q", c.Name, c.Usage)
		}
		if !slices.Equal(c.Subwords, commands[i].subs) && len(commands[i].subs) > 0 {
			t.Errorf("%s: subwords %v", c.Name, c.Subwords)
		}
	}
	// A copy: changing it leaves the registry alone.
	for i := range cs {
		for j := range cs[i].Options {
			cs[i].Options[j].Name = "changed"
		}
		for j := range cs[i].Subwords {
			cs[i].Subwords[j] = "changed"
		}
	}
	for _, c := range Commands() {
		if slices.Contains(c.Subwords, "changed") || slices.ContainsFunc(c.Options, func(o OptionInfo) bool { return o.Name == "changed" }) {
			t.Errorf("%s: Commands shares the registry's slices", c.Name)
		}
	}
	cs = Commands()
	find := cs[slices.IndexFunc(cs, func(c CommandInfo) bool { return c.Name == "find" })]
	if find.Abbrev != "f" || find.Addition || !find.NeedsSite {
		t.Errorf("find: %+v", find)
	}
	df := cs[slices.IndexFunc(cs, func(c CommandInfo) bool { return c.Name == "df" })]
	if !df.Addition || len(df.Options) != 1 || df.Options[0] != (OptionInfo{Name: "count", Abbrev: "c"}) {
		t.Errorf("df: %+v", df)
	}
	q := cs[slices.IndexFunc(cs, func(c CommandInfo) bool { return c.Name == "query" })]
	if !strings.HasPrefix(q.Synopsis(), "query pfn lspec [lspec [...]] | query rfn lspec") {
		t.Errorf("query synopsis: %s", q.Synopsis())
	}
}
