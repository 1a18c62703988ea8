package daemon

import (
	"html/template"
	"net/http"
)

// statusPage is the operator's overview at /: every channel's state, input
// and last cue, with a link to watch its live captions.
var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"kbps": func(bps float64) float64 { return bps / 1000 },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>subtitled status</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5rem;background:#15171a;color:#e8e8e8}
table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #333;text-align:left}
.live{color:#7fd67f}.failed{color:#ff7b7b}.stalled{color:#ffd36b}a{color:#9cc9ff}</style></head>
<body><h1>subtitled {{.Version}}</h1>
<table><tr><th>channel</th><th>state</th><th>input</th><th>kbit/s</th><th>last cue</th><th>latency</th><th></th></tr>
{{range .Channels}}<tr><td>{{.ID}}{{if ne .Name .ID}} ({{.Name}}){{end}}</td>
<td class="{{.State}}">{{.State}}{{if .LastError}}<br><small>{{.LastError}}</small>{{end}}</td>
<td>{{.Input.URL}} ({{.Input.State}})</td><td>{{printf "%.0f" (kbps .Input.BitrateBps)}}</td>
<td>{{range $t, $c := .LastCue}}<b>{{$t}}</b> #{{$c.ID}}: {{$c.Text}}<br>{{end}}</td>
<td>{{printf "%.2f s" .Latency}}</td>
<td><a href="/demo?channel={{.ID}}">watch captions</a></td></tr>{{end}}
</table><p><a href="/v1/channels">/v1/channels</a> · <a href="/metrics">/metrics</a> · <a href="/readyz">/readyz</a></p>
</body></html>`))

func (d *daemon) handleStatusPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = statusPage.Execute(w, map[string]any{"Version": Version, "Channels": d.statuses()})
}
