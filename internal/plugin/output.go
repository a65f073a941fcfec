package plugin

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"unicode/utf8"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/target"
)

// output writes the verdict in the chosen format and returns the exit code.
type output struct {
	name   string // label on the first line
	w      io.Writer
	format string
	style  exitcode.Style
	cmd    *check.Command // nil until the command line parsed
	proc   *process       // nil unless this run is the process's own
	// printed holds the exit code + 1 of the first print: the watchdog and
	// the run race for it, and only one verdict may reach the caller.
	printed atomic.Int32
}

// usageError reports bad arguments: UNKNOWN, one line, with a hint.
func (o *output) usageError(command string, err error) int {
	// The parser repeats an unknown option raw: keep argv's bytes off the line.
	text := probe.Clean(usageText(err), 300)
	if !errors.Is(err, target.ErrUsage) {
		text = "bad argument: " + text
	}
	if !errors.Is(err, check.ErrMarkRefused) { // says itself what to do
		text += " (see " + command + " --help)"
	}
	r := probe.Result{State: exitcode.Unknown, Summary: text, Err: err}
	return o.print(check.Verdict{Result: r})
}

// UsageError reports a command line that names no check (lbcheck's own):
// one UNKNOWN line labelled name, in the --format and with the exit code
// of the --exit-style in args, as a check's bad argument is.
func UsageError(name, command string, args []string, err error, stdout io.Writer) int {
	format, style := prescan(args)
	o := &output{name: name, w: stdout, format: format, style: style}
	return o.usageError(command, err)
}

// print writes v and returns its exit code. Only the first call writes; a
// later one (the watchdog after the run, or the other way round) returns
// the first one's code.
func (o *output) print(v check.Verdict) int {
	state, _ := v.Graded()
	code := o.style.Code(state)
	if !o.printed.CompareAndSwap(0, int32(code)+1) {
		return int(o.printed.Load()) - 1
	}
	var text []byte
	if o.format == "json" {
		text = o.json(&v, state)
	} else {
		text = o.text(&v)
	}
	o.write(text)
	return code
}

func (o *output) text(v *check.Verdict) []byte {
	b := make([]byte, 0, 160)
	b = append(b, v.Line(o.name)...)
	b = append(b, '\n')
	for _, line := range v.Trace {
		b = append(b, line...)
		b = append(b, '\n')
	}
	return b
}

// write sends the verdict. The process's own stdout is written with
// write(2) directly: a pipe whose reader went away then returns EPIPE
// instead of killing the check with SIGPIPE (as os.Stdout would), and a
// full pipe blocks only this write, which the watchdog bounds.
func (o *output) write(b []byte) {
	if f, ok := o.w.(*os.File); ok && o.proc != nil {
		fd := int(f.Fd())
		for len(b) > 0 {
			n, err := syscall.Write(fd, b)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || n <= 0 {
				return
			}
			b = b[n:]
		}
		return
	}
	o.w.Write(b)
}

// json is the verdict as one JSON object on one line, written by hand: the
// fields are fixed, and encoding/json would cost every call its start-up.
func (o *output) json(v *check.Verdict, state exitcode.State) []byte {
	_, summary := v.Graded()
	b := make([]byte, 0, 512)
	b = append(b, `{"check":`...)
	b = jsonString(b, o.name)
	b = append(b, `,"state":`...)
	b = jsonString(b, state.String())
	b = append(b, `,"exit_code":`...)
	b = strconv.AppendInt(b, int64(o.style.Code(state)), 10)
	b = append(b, `,"summary":`...)
	b = jsonString(b, summary)
	if v.Target != nil {
		if v.Target.Host != "" {
			b = append(b, `,"host":`...)
			b = jsonString(b, v.Target.Host)
		}
		if v.Target.Addr.IsValid() {
			b = append(b, `,"address":`...)
			b = jsonString(b, v.Target.Addr.String())
		}
	}
	if v.Attempt > 0 {
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(v.Attempt), 10)
	}
	pd := v.Perfdata()
	if len(pd) > 0 {
		b = append(b, `,"time_seconds":`...)
		b = jsonFloat(b, pd[0].Value)
	}
	if v.Timeout {
		b = append(b, `,"timed_out":true`...)
	}
	if len(v.Phases) > 0 {
		b = append(b, `,"timings_seconds":{`...)
		for i, ph := range v.Phases {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonString(b, ph.Name)
			b = append(b, ':')
			b = jsonFloat(b, ph.Duration.Seconds())
		}
		b = append(b, '}')
	}
	if len(pd) > 0 {
		b = append(b, `,"perfdata":[`...)
		for i, m := range pd {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"label":`...)
			b = jsonString(b, m.Label)
			b = append(b, `,"value":`...)
			b = jsonFloat(b, m.Value)
			for _, f := range [...]struct{ k, v string }{{"unit", m.Unit}, {"warning", m.Warn}, {"critical", m.Crit}} {
				if f.v != "" {
					b = append(b, `,"`...)
					b = append(b, f.k...)
					b = append(b, `":`...)
					b = jsonString(b, f.v)
				}
			}
			if m.Min != nil {
				b = append(b, `,"min":`...)
				b = jsonFloat(b, *m.Min)
			}
			if m.Max != nil {
				b = append(b, `,"max":`...)
				b = jsonFloat(b, *m.Max)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if v.Err != nil {
		b = append(b, `,"error":`...)
		b = jsonString(b, v.Err.Error())
	}
	if len(v.Trace) > 0 {
		b = append(b, `,"trace":[`...)
		for i, line := range v.Trace {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonString(b, line)
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// jsonFloat writes a number as encoding/json does: the shortest form that
// reads back the same, in exponent form only for very large or small ones.
func jsonFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}

// jsonString writes s as a JSON string: quotes, backslashes and control
// bytes escaped, invalid UTF-8 replaced, everything else as is.
func jsonString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// as encoding/json: some JavaScript parsers end a line there
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
