package check

import (
	"strconv"
	"strings"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/threshold"
)

// Verdict is the outcome of a run: the probe's result of the last attempt,
// and what grading it needs.
type Verdict struct {
	probe.Result
	Command  *Command      // nil for a usage error
	Target   *probe.Target // nil when none was parsed
	Took     time.Duration // the reported attempt's duration
	Measured bool          // Took is a response time (perfdata, thresholds)
	Attempt  int           // which attempt this is, from 1; 0 if none ran
	Trace    []string      // the -v lines
	// Lookup is how long resolving HOST took (a literal takes none), for
	// the daemon's probe_dns_lookup_time_seconds.
	Lookup time.Duration
}

// Attempted makes r, the result of attempt number attempt, the verdict's.
// ran is how long the attempt took by the caller's clock: the response
// time, unless the probe states its own (r.Took, the time its summary
// names); a timeout says after how long. Command.run and lbcheckd's
// half-open sweeps (whose probes no Command runs) both record a probe's
// result through it, and grade it with Graded (--timeout-state, the
// thresholds), so a verdict reads the same whichever path probed.
func (v *Verdict) Attempted(r probe.Result, ran time.Duration, attempt int) {
	took := ran
	if r.Took > 0 && !r.Timeout {
		took = r.Took
	}
	v.Result, v.Took, v.Attempt = r, took, attempt
	v.Measured = !r.Timeout && r.State != exitcode.Unknown
	if r.Timeout {
		v.Summary += " after " + probe.Millis(took)
	}
}

// Graded is the verdict's final state and summary: a timeout reports
// --timeout-state, and a working service's response time is graded by the
// thresholds (a failure stays a failure).
func (v *Verdict) Graded() (exitcode.State, string) {
	if v.Command == nil {
		return v.State, v.Summary
	}
	if v.Timeout {
		return v.Command.TimeoutState, v.Summary
	}
	s, summary := v.State, v.Summary
	if v.Measured && (s == exitcode.OK || s == exitcode.Warning) {
		if ts := v.Command.Thresholds.State(v.Took.Seconds()); ts != exitcode.OK {
			which := "; time outside warning range"
			if ts == exitcode.Critical {
				which = "; time outside critical range"
			}
			summary += which
			s = exitcode.Worst(s, ts)
		}
	}
	return s, summary
}

// Perfdata is the verdict's metrics: the response time first, with the
// thresholds, then the probe's own. A run that measured nothing (timeout,
// UNKNOWN) has none.
func (v *Verdict) Perfdata() []probe.Metric {
	if !v.Measured {
		return nil
	}
	zero, max := 0.0, v.Command.Deadline.Seconds()
	m := make([]probe.Metric, 0, 1+len(v.Metrics))
	m = append(m, probe.Metric{Label: "time", Value: v.Took.Seconds(), Unit: "s", Min: &zero, Max: &max,
		Warn: rangeText(v.Command.Thresholds.Warning), Crit: rangeText(v.Command.Thresholds.Critical)})
	return append(m, v.Metrics...)
}

// Line is the Nagios plugin output's first line, without its newline:
// NAME STATE - summary | perfdata.
func (v *Verdict) Line(name string) string {
	state, summary := v.Graded()
	var b strings.Builder
	b.Grow(128)
	b.WriteString(name)
	b.WriteByte(' ')
	b.WriteString(state.String())
	b.WriteString(" - ")
	// The first line is one line, and '|' would start perfdata early.
	for i := 0; i < len(summary); i++ {
		switch c := summary[i]; c {
		case '\n', '\r':
			b.WriteByte(' ')
		case '|':
			b.WriteByte('/')
		default:
			b.WriteByte(c)
		}
	}
	for i, m := range v.Perfdata() {
		if i == 0 {
			b.WriteString(" |")
		}
		b.WriteByte(' ')
		writeMetric(&b, m)
	}
	return b.String()
}

// writeMetric renders one perfdata item in the guideline syntax:
// 'label'=value[UOM];[warn];[crit];[min];[max]
func writeMetric(b *strings.Builder, m probe.Metric) {
	if strings.ContainsAny(m.Label, " '=") {
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(m.Label, "'", "''"))
		b.WriteByte('\'')
	} else {
		b.WriteString(m.Label)
	}
	b.WriteByte('=')
	if m.Unit == "s" {
		b.WriteString(strconv.FormatFloat(m.Value, 'f', 6, 64))
	} else {
		b.WriteString(num(m.Value))
	}
	b.WriteString(m.Unit)
	fields := [4]string{m.Warn, m.Crit, optNum(m.Min), optNum(m.Max)}
	last := len(fields)
	for last > 0 && fields[last-1] == "" {
		last--
	}
	for _, f := range fields[:last] {
		b.WriteByte(';')
		b.WriteString(f)
	}
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
