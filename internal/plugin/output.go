package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/target"
	"github.com/lbcheck/lbcheck/internal/threshold"
)

// printer writes the verdict in the chosen format and returns the exit code.
type printer struct {
	spec       *Spec
	w          io.Writer
	format     string
	style      exitcode.Style
	timeout    time.Duration
	thresholds threshold.Pair
	// timeoutState replaces the state of a verdict that ran out of time.
	timeoutState exitcode.State
}

// usageError reports bad arguments: UNKNOWN, one line, with a hint.
func (p *printer) usageError(err error) int {
	// pflag repeats an unknown option raw: keep argv's bytes off the line.
	text := probe.Clean(usageText(err), 300)
	if !errors.Is(err, target.ErrUsage) {
		text = "bad argument: " + text
	}
	r := probe.Result{State: exitcode.Unknown, Summary: text + " (see " + p.spec.Command + " --help)", Err: err}
	return p.print(verdict{Result: r})
}

// state is the verdict's final state: the probe's, the timeout state for a
// timeout, and the worst of that and the response-time thresholds.
func (p *printer) state(v *verdict) exitcode.State {
	if v.Timeout {
		return p.timeoutState
	}
	s := v.State
	// Thresholds grade a working service's speed; a failure stays a failure.
	if v.measured && (s == exitcode.OK || s == exitcode.Warning) {
		if ts := p.thresholds.State(v.took.Seconds()); ts != exitcode.OK {
			which := "warning"
			if ts == exitcode.Critical {
				which = "critical"
			}
			v.Summary += fmt.Sprintf("; time outside %s range", which)
			s = exitcode.Worst(s, ts)
		}
	}
	return s
}

func (p *printer) print(v verdict) int {
	state := p.state(&v)
	if p.format == "json" {
		p.printJSON(v, state)
	} else {
		p.printText(v, state)
	}
	return p.style.Code(state)
}

// perfdata is the metrics of a verdict: time first, then the probe's own.
func (p *printer) perfdata(v verdict) []probe.Metric {
	if !v.measured {
		return nil
	}
	zero, max := 0.0, p.timeout.Seconds()
	m := []probe.Metric{{Label: "time", Value: v.took.Seconds(), Unit: "s", Min: &zero, Max: &max}}
	return append(m, v.Metrics...)
}

func (p *printer) printText(v verdict, state exitcode.State) {
	var b strings.Builder
	b.WriteString(p.spec.Name)
	b.WriteByte(' ')
	b.WriteString(state.String())
	b.WriteString(" - ")
	// The first line is one line, and '|' would start perfdata early.
	b.WriteString(strings.NewReplacer("\n", " ", "\r", " ", "|", "/").Replace(v.Summary))
	if pd := p.perfdata(v); len(pd) > 0 {
		b.WriteString(" |")
		for i, m := range pd {
			b.WriteByte(' ')
			b.WriteString(p.formatMetric(m, i == 0))
		}
	}
	b.WriteByte('\n')
	for _, line := range v.trace {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	io.WriteString(p.w, b.String())
}

// formatMetric renders one perfdata item in the guideline syntax:
// 'label'=value[UOM];[warn];[crit];[min];[max]
func (p *printer) formatMetric(m probe.Metric, isTime bool) string {
	warn, crit := m.Warn, m.Crit
	if isTime {
		warn, crit = rangeText(p.thresholds.Warning), rangeText(p.thresholds.Critical)
	}
	label := m.Label
	if strings.ContainsAny(label, " '=") {
		label = "'" + strings.ReplaceAll(label, "'", "''") + "'"
	}
	value := num(m.Value)
	if m.Unit == "s" {
		value = strconv.FormatFloat(m.Value, 'f', 6, 64)
	}
	s := fmt.Sprintf("%s=%s%s;%s;%s;%s;%s", label, value, m.Unit, warn, crit, optNum(m.Min), optNum(m.Max))
	return strings.TrimRight(s, ";")
}

func rangeText(r *threshold.Range) string {
	if r == nil {
		return ""
	}
	return r.String()
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func optNum(f *float64) string {
	if f == nil {
		return ""
	}
	return num(*f)
}

type jsonMetric struct {
	Label    string   `json:"label"`
	Value    float64  `json:"value"`
	Unit     string   `json:"unit,omitempty"`
	Warning  string   `json:"warning,omitempty"`
	Critical string   `json:"critical,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
}

type jsonVerdict struct {
	Check    string             `json:"check"`
	State    string             `json:"state"`
	ExitCode int                `json:"exit_code"`
	Summary  string             `json:"summary"`
	Host     string             `json:"host,omitempty"`
	Address  string             `json:"address,omitempty"`
	Attempts int                `json:"attempts,omitempty"`
	Time     *float64           `json:"time_seconds,omitempty"`
	Timeout  bool               `json:"timed_out,omitempty"`
	Timings  map[string]float64 `json:"timings_seconds,omitempty"`
	Perfdata []jsonMetric       `json:"perfdata,omitempty"`
	Error    string             `json:"error,omitempty"`
	Trace    []string           `json:"trace,omitempty"`
}

func (p *printer) printJSON(v verdict, state exitcode.State) {
	j := jsonVerdict{
		Check: p.spec.Name, State: state.String(), ExitCode: p.style.Code(state),
		Summary: v.Summary, Attempts: v.attempts, Timeout: v.Timeout, Trace: v.trace,
	}
	if v.target != nil {
		j.Host = v.target.Host
		if v.target.Addr.IsValid() {
			j.Address = v.target.Addr.String()
		}
	}
	if v.Err != nil {
		j.Error = v.Err.Error()
	}
	if len(v.Phases) > 0 {
		j.Timings = make(map[string]float64, len(v.Phases))
		for _, ph := range v.Phases {
			j.Timings[ph.Name] = ph.Duration.Seconds()
		}
	}
	for i, m := range p.perfdata(v) {
		jm := jsonMetric{Label: m.Label, Value: m.Value, Unit: m.Unit, Warning: m.Warn, Critical: m.Crit, Min: m.Min, Max: m.Max}
		if i == 0 {
			t := m.Value
			j.Time = &t
			jm.Warning, jm.Critical = rangeText(p.thresholds.Warning), rangeText(p.thresholds.Critical)
		}
		j.Perfdata = append(j.Perfdata, jm)
	}
	enc := json.NewEncoder(p.w)
	enc.SetEscapeHTML(false)
	enc.Encode(j)
}
