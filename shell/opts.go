package shell

import (
	"fmt"
	"strings"
)

// optSpec is one command option as frm_admin spells it: -name, matched by
// any prefix at least min letters long (so -f, -fo ... -force).
type optSpec struct {
	name     string
	min      int
	hasValue bool
}

// usageError is a malformed command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// parsedOpts holds the options found on a command line.
type parsedOpts struct {
	set    map[string]bool
	values map[string]string
}

func (p parsedOpts) has(name string) bool     { return p.set[name] }
func (p parsedOpts) value(name string) string { return p.values[name] }

// parseOpts separates options from positional arguments. Unlike
// frm_admin, options may appear anywhere (also after the type word of
// audit and find); "--" ends them. Logical names are absolute, so a
// positional argument never starts with "-".
func parseOpts(args []string, specs []optSpec) (parsedOpts, []string, error) {
	p := parsedOpts{set: map[string]bool{}, values: map[string]string{}}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" && len(specs) == 0 {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if name == "" {
			return p, nil, usagef("Option letter missing after '-'.")
		}
		var match *optSpec
		for j := range specs {
			s := &specs[j]
			if len(name) >= s.min && len(name) <= len(s.name) && s.name[:len(name)] == name {
				match = s
				break
			}
		}
		if match == nil {
			return p, nil, usagef("Invalid option, '%s'.", name)
		}
		p.set[match.name] = true
		if match.hasValue {
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") && !isNumberish(args[i+1]) {
				return p, nil, usagef("Value not specified for '%s'.", name)
			}
			i++
			p.values[match.name] = args[i]
		}
	}
	return p, pos, nil
}

// isNumberish lets values such as "-1" pass; no option value in the
// command language is negative today, so it only matters for clearer
// errors later on.
func isNumberish(s string) bool {
	if len(s) < 2 {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
