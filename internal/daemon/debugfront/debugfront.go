// Package debugfront is what lbcheckd shows a person, as
// blackbox_exporter does: debug=true on /probe and /check (the module, the
// command line it stands for, the probe's protocol trace, the metrics
// /probe would serve, as text/plain in blackbox's layout), / (the last
// probes, each with its page, then the modules), /logs?id=N (a past
// probe's page) and /config (the configuration in force, as YAML).
//
// Nothing here shows a secret: --password values, request headers' values
// (but for plain ones such as Accept) and the values of a path's or URL
// target's query are masked wherever a module's command line, a target or
// a trace appears. The pages are on
// the listen address with /probe itself, behind the same TLS and basic
// auth when web_config_file sets them: whoever may ask a probe may read
// how it went.
package debugfront

import (
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/daemon/probefront"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/version"
)

// TraceLevel is the verbosity of a debug probe's trace: -vv, the most any
// check writes.
const TraceLevel = 2

// Front serves the pages for one daemon.
type Front struct {
	D       *daemon.Daemon
	History *History
}

// New is a front on d that remembers d's probes from now on.
func New(d *daemon.Daemon) *Front {
	f := &Front{D: d, History: NewHistory(HistorySize)}
	d.OnProbe = f.History.Add
	return f
}

// Register puts /, /logs and /config on mux.
func (f *Front) Register(mux *http.ServeMux) {
	mux.HandleFunc("/{$}", f.index)
	mux.HandleFunc("/logs", f.logs)
	mux.HandleFunc("/config", f.config)
}

// Wrap answers debug=true requests to a front's path (/probe, /check)
// with the debug page, and passes the others to next untouched.
func (f *Front) Wrap(path string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("debug") != "true" {
			next.ServeHTTP(w, r)
			return
		}
		// As strict as the fronts: debug=true given twice, or with
		// debug=false, is refused there.
		req, status, err := daemon.RequestFromHTTP(w, r)
		if err == nil && path == "/probe" {
			// blackbox's URL targets, as /probe itself takes them
			if err = daemon.URLTarget(&req); err != nil {
				status = http.StatusBadRequest
			}
		}
		if err != nil {
			http.Error(w, err.Error(), status)
			return
		}
		req.Trace = TraceLevel
		res, err := f.D.Check(r.Context(), req)
		if err != nil {
			// No probe ran: there is nothing to show but why.
			http.Error(w, err.Error(), daemon.HTTPStatus(err, http.StatusGatewayTimeout))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, Page(Entry{Time: time.Now(), Target: req.Target, Port: req.Port, Traced: true, Result: res}, path))
	})
}

// Page is a probe's debug page, in blackbox_exporter's layout: the
// probe's log, the metrics /probe would have served, the module.
// path is the front the probe was asked through, whose answer it states.
func Page(e Entry, path string) string {
	res := e.Result
	mod := res.Module
	var b strings.Builder
	b.WriteString("Logs for the probe:\n")
	fmt.Fprintf(&b, "%s module=%s target=%s timeout_seconds=%g msg=\"Beginning probe\"\n",
		e.Time.Add(-res.Duration).UTC().Format(time.RFC3339Nano), mod.Name, strconv.Quote(maskQuery(target(e))), res.Deadline.Seconds())
	switch {
	case res.Watched:
		// A watched target is answered from memory: the watch's own
		// probes run untraced, and a second probe in flight for the
		// target is what a watch never makes.
		fmt.Fprintf(&b, "(no protocol trace: module %s keeps watch, and this is its verdict from memory, %.1f s old, after fall and rise; ask a module without every for a traced probe)\n", mod.Name, res.Age.Seconds())
	case !e.Traced:
		b.WriteString("(no protocol trace: this probe ran without debug=true)\n")
	}
	for _, l := range MaskTrace(res.Trace) {
		b.WriteString(l + "\n")
	}
	b.WriteString(res.Line(mod.Cmd.Spec.Name) + "\n")
	msg := "Probe succeeded"
	if res.State != exitcode.OK && res.State != exitcode.Warning {
		msg = "Probe failed"
	}
	fmt.Fprintf(&b, "%s module=%s target=%s duration_seconds=%g msg=%q\n",
		e.Time.UTC().Format(time.RFC3339Nano), mod.Name, strconv.Quote(maskQuery(target(e))), res.Duration.Seconds(), msg)
	fmt.Fprintf(&b, "/probe answers: %s\n/check answers: %s\n", probeAnswer(res.State), checkAnswer(res.State))

	b.WriteString("\n\n\nMetrics that would have been returned:\n")
	if res.State == exitcode.Unknown {
		b.WriteString("(none: the check could not check, so /probe fails the scrape and the series go stale)\n")
	} else {
		b.Write(probefront.Exposition(res))
	}

	b.WriteString("\n\n\nModule configuration:\n")
	fmt.Fprintf(&b, "module: %s\n", mod.Name)
	fmt.Fprintf(&b, "argv: %s\n", shellLine(MaskArgv(mod.Argv)))
	args := append(MaskArgv(mod.Argv), maskQuery(e.Target))
	if e.Port != "" {
		args = append(args, e.Port)
	}
	fmt.Fprintf(&b, "command line (add -vv for this trace): %s\n", shellLine(args))
	if path != "" {
		fmt.Fprintf(&b, "asked through: %s\n", path)
	}
	return b.String()
}

// target is what the request named, as one HOST:PORT when the agent
// protocol gave the port apart.
func target(e Entry) string {
	if e.Port != "" {
		return net.JoinHostPort(e.Target, e.Port)
	}
	return e.Target
}

func probeAnswer(s exitcode.State) string {
	if s == exitcode.Unknown {
		return "500, could not check (the scrape fails)"
	}
	return "200 and the metrics below"
}

func checkAnswer(s exitcode.State) string {
	switch s {
	case exitcode.OK:
		return "200 (up)"
	case exitcode.Unknown:
		return "500 (could not check)"
	}
	return "503 (down)"
}

func (f *Front) logs(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.URL.Query().Get("id"), 10, 64)
	if err != nil {
		http.Error(w, "id: want the number of a probe listed on /", http.StatusBadRequest)
		return
	}
	e, ok := f.History.Get(id)
	if !ok {
		http.Error(w, "probe "+strconv.FormatUint(id, 10)+" is not among the last "+strconv.Itoa(HistorySize), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, Page(e, ""))
}

func (f *Front) config(w http.ResponseWriter, r *http.Request) {
	text, err := ConfigYAML(f.D.Config())
	if err != nil {
		http.Error(w, "configuration: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(text)
}

// ConfigYAML is the configuration in force as the file would say it, the
// defaults filled in and the secrets masked.
func ConfigYAML(cfg *daemon.Config) ([]byte, error) {
	file := cfg.File
	file.Modules = make(map[string]daemon.ModuleEntry, len(cfg.Modules))
	for name, m := range cfg.Modules {
		e := cfg.File.Modules[name] // as written: the list or the map form
		e.Check = MaskArgv(m.Argv)
		file.Modules[name] = e
	}
	return yaml.Marshal(file)
}

func (f *Front) index(w http.ResponseWriter, r *http.Request) {
	cfg := f.D.Config()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	esc := html.EscapeString
	b.WriteString("<!DOCTYPE html>\n<html><head><title>lbcheckd</title></head><body>\n")
	b.WriteString("<h1>lbcheckd " + esc(version.Version) + "</h1>\n<pre>\n")
	b.WriteString("/probe?module=M&amp;target=HOST:PORT  Prometheus (blackbox_exporter's conventions); &amp;debug=true for the trace\n")
	b.WriteString("/check?module=M&amp;target=HOST:PORT  load balancers: 200 up, 503 down; &amp;debug=true for the trace\n")
	b.WriteString("<a href=\"watches\">/watches</a>                          every watched target's latest verdict (JSON with Accept: application/json)\n")
	b.WriteString("<a href=\"metrics\">/metrics</a>                          the daemon's own metrics\n")
	b.WriteString("<a href=\"config\">/config</a>                           the configuration in force\n</pre>\n")
	b.WriteString("<h2>Recent probes</h2>\n<table border=\"1\">\n<tr><th>Time (UTC)</th><th>Module</th><th>Target</th><th>Verdict</th><th>Debug</th></tr>\n")
	for _, e := range f.History.List() {
		res := e.Result
		state := esc(res.State.String())
		if res.State != exitcode.OK {
			state = "<strong>" + state + "</strong>"
		}
		shown := maskQuery(target(e))
		again := ""
		if shown == target(e) { // a link would show a URL target's query
			q := url.Values{"module": {res.Module.Name}, "target": {target(e)}, "debug": {"true"}}
			again = " <a href=\"probe?" + esc(q.Encode()) + "\">Probe again</a>"
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s - %s</td><td><a href=\"logs?id=%d\">Logs</a>%s</td></tr>\n",
			e.Time.UTC().Format("2006-01-02 15:04:05.000"), esc(res.Module.Name), esc(shown), state, esc(res.Summary), e.ID, again)
	}
	b.WriteString("</table>\n<h2>Modules</h2>\n<pre>\n")
	names := make([]string, 0, len(cfg.Modules))
	for name := range cfg.Modules {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m := cfg.Modules[name]
		b.WriteString(esc(name) + ": " + esc(shellLine(MaskArgv(m.Argv))))
		if m.Watch != nil {
			b.WriteString(", watched every " + esc(m.Watch.Every.String()))
		}
		b.WriteString("\n")
	}
	b.WriteString("</pre>\n</body></html>\n")
	io.WriteString(w, b.String())
}
