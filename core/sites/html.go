package sites

import (
	"bytes"
	"fmt"
	"html/template"
	"time"

	"frm/core/fedapi"
)

// RenderHTML is the report as one self-contained HTML page: inline CSS,
// SVG usage bars, no script and no external asset, readable from file://
// and in a terminal browser (every bar also says its figures in text).
func RenderHTML(r *Report) ([]byte, error) {
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, r); err != nil {
		return nil, fmt.Errorf("sites report: %w", err)
	}
	return b.Bytes(), nil
}

// bar is one space's usage bar.
type bar struct {
	Name  string
	Pct   float64
	Width float64 // of 120
	Class string
	Text  string
}

var pageTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"stamp": stamp,
	"lower": func(s State) string {
		return map[State]string{OK: "ok", Warning: "warning", Critical: "critical", Unknown: "unknown"}[s]
	},
	"bars": func(r *Report, x Result) []bar {
		if x.Status == nil {
			return nil
		}
		var out []bar
		for _, sp := range x.Status.Spaces {
			pct, ok := UsedPercent(sp)
			b := bar{Name: sp.Name, Pct: pct, Width: 120 * pct / 100, Class: "ok"}
			if !ok {
				b.Text = sp.Name + ": capacity unknown"
				out = append(out, b)
				continue
			}
			switch band(pct, r.thresholds(x)) {
			case 1:
				b.Class = "warning"
			case 2:
				b.Class = "critical"
			}
			b.Text = fmt.Sprintf("%s %.0f%% of %s", sp.Name, pct, Bytes(sp.Total))
			out = append(out, b)
		}
		return out
	},
	"queue": func(st *fedapi.Status) string {
		if st == nil {
			return "-"
		}
		return QueueText(st.Queue)
	},
	"fails": func(st *fedapi.Status) string {
		if st == nil || st.Failures24h < 0 {
			return "-"
		}
		return fmt.Sprint(st.Failures24h)
	},
	"unmig": func(r *Report, st *fedapi.Status) string {
		if st == nil || st.OldestUnmigrated == nil {
			return "-"
		}
		return Age(r.Generated.Sub(*st.OldestUnmigrated))
	},
	"seen": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return stamp(*t)
	},
	"histState": func(h RunSummary, name string) string {
		s, ok := h.Sites[name]
		if !ok {
			return "none"
		}
		return map[State]string{OK: "ok", Warning: "warning", Critical: "critical", Unknown: "unknown"}[s]
	},
	"mul": func(a, b int) int { return a * b },
}).Parse(page))

const page = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>frm sites: {{.State}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.4em; margin-bottom: .2em; }
p.gen { color: #555; margin-top: 0; }
.summary span { display: inline-block; padding: .4em .8em; margin: 0 .5em .5em 0; border-radius: 4px; font-weight: bold; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border-bottom: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.state { font-weight: bold; }
.ok { background: #d4edda; color: #155724; }
.warning { background: #fff3cd; color: #856404; }
.critical { background: #f8d7da; color: #721c24; }
.unknown { background: #e2e3e5; color: #383d41; }
.none { background: #fff; }
svg rect.ok { fill: #28a745; } svg rect.warning { fill: #e0a800; } svg rect.critical { fill: #dc3545; }
svg rect.frame { fill: #eee; stroke: #999; }
.space { white-space: nowrap; font-size: .9em; }
.reason { min-width: 14em; max-width: 32em; }
#sites { font-size: .9em; }
td.seen { min-width: 6.5em; }
td.hist { width: 1em; padding: 0; border: 1px solid #fff; }
td.nw { white-space: nowrap; }
</style>
</head>
<body>
<h1>frm sites: <span class="state {{lower .State}}">{{.State}}</span></h1>
<p class="gen">generated {{stamp .Generated}}{{if .Previous}}, compared with the run of {{stamp .Previous}}{{end}}</p>
<div class="summary" id="summary">
<span class="ok">{{.Counts.OK}} OK</span><span class="warning">{{.Counts.Warning}} WARNING</span><span class="critical">{{.Counts.Critical}} CRITICAL</span><span class="unknown">{{.Counts.Unknown}} UNKNOWN</span>
</div>
<h2>Sites</h2>
<table id="sites">
<thead><tr><th>Site</th><th>State</th><th>Version</th><th>Spaces</th><th>Queue</th><th>Failures 24h</th><th>Oldest unmigrated</th><th>Last seen</th><th>Reason</th></tr></thead>
<tbody>
{{range .Results}}{{$x := .}}<tr id="site-{{.Name}}" data-state="{{.State}}">
<td><a href="{{.URL}}">{{.Name}}</a></td>
<td class="state {{lower .State}}">{{.State}}</td>
<td>{{with .Status}}{{.Version}}{{else}}-{{end}}</td>
<td>{{range bars $ $x}}<div class="space"><svg width="122" height="12" role="img" aria-label="{{.Text}}"><rect class="frame" x="0.5" y="0.5" width="121" height="11"/><rect class="{{.Class}}" x="1" y="1" width="{{printf "%.1f" .Width}}" height="10"/></svg> {{.Text}}</div>{{else}}-{{end}}</td>
<td class="nw">{{queue .Status}}</td>
<td>{{fails .Status}}</td>
<td>{{unmig $ .Status}}</td>
<td class="seen">{{seen .LastSeen}}</td>
<td class="reason">{{range .Reasons}}{{.}}<br>{{end}}</td>
</tr>
{{end}}</tbody>
</table>
{{if .Previous}}<h2>Changes since the previous run</h2>
{{if .Changes}}<ul id="changes">
{{range .Changes}}<li class="{{lower .Severity}}"><b>{{.Site}}</b>: {{.Text}}</li>
{{end}}</ul>{{else}}<p id="changes">None.</p>{{end}}{{end}}
{{if gt (len .History) 1}}<h2>Last {{len .History}} runs</h2>
<table id="history">
<thead><tr><th>Site</th>{{range .History}}<th title="{{stamp .At}}">{{.At.Format "02 15:04"}}</th>{{end}}</tr></thead>
<tbody>
{{range .Results}}{{$n := .Name}}<tr><td>{{$n}}</td>{{range $.History}}<td class="hist {{histState . $n}}" title="{{stamp .At}}">{{histState . $n}}</td>{{end}}</tr>
{{end}}</tbody>
</table>{{end}}
</body>
</html>
`
