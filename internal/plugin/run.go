package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	_ "github.com/lbcheck/lbcheck/internal/plugin/oneproc" // one P, before most init work
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/version"
)

// Commands are the binaries of the suite.
var Commands = check.Commands

// grace is how long the watchdog lets a run that reached its deadline
// finish on its own (every probe returns its timeout verdict at the
// deadline) before it prints the verdict itself and ends the process: a
// hundredth of the deadline, from 20 to 100 ms. A long wait ends late by
// the kernel's slack, 0.1% of it (0.5% for a niced process, as a
// monitoring daemon's children may be), and a loaded machine deschedules
// the run for tens of milliseconds; a fixed 20 ms let the watchdog print
// "no verdict" over a run that had its own timeout verdict ready (Icinga,
// -t 8, in CI).
func grace(deadline time.Duration) time.Duration {
	return min(max(deadline/100, 20*time.Millisecond), 100*time.Millisecond)
}

// Run is the whole life of a check binary: it returns the exit code.
func Run(ctx context.Context, spec check.Spec, args []string, stdout, stderr io.Writer) (code int) {
	_ = growStack()
	format, style := prescan(args)
	out := &output{name: spec.Name, w: stdout, format: format, style: style, proc: processOf(ctx)}
	defer func() {
		if p := recover(); p != nil {
			code = out.print(internalError(spec.Command, stderr, p))
		}
	}()

	cmd, err := check.Parse(&spec, args)
	var missing *check.Missing
	if errors.As(err, &missing) {
		return out.handOver(spec.Command, missing, args)
	}
	if err != nil {
		return out.usageError(spec.Command, err)
	}
	switch {
	case cmd.Help:
		io.WriteString(stdout, help(cmd))
		return 0
	case cmd.Version:
		io.WriteString(stdout, spec.Command+" "+version.String()+"\n")
		return 0
	case cmd.Man:
		io.WriteString(stdout, manPage(cmd))
		return 0
	}
	out.format, out.style, out.cmd = cmd.Format, cmd.Style, cmd
	if c, ok := cmd.Options.(io.Closer); ok {
		defer c.Close() // the half-open check's raw socket
	}

	cmd.Socket.Poll = true // one probe at a time: ppoll, not the netpoller
	// The caller's clock started when it spawned us: under load the
	// process may get the CPU long after, and the deadline counts from then.
	start := time.Now()
	if out.proc != nil {
		if t, ok := out.proc.started(); ok {
			start = t
		}
		preciseTimers()
	}
	ctx, cancel := context.WithDeadline(ctx, start.Add(cmd.Deadline))
	defer cancel()
	log := probe.NewLog(cmd.Verbose)
	if out.proc != nil {
		deadline, _ := ctx.Deadline()
		stop := out.proc.watch(deadline.Add(grace(cmd.Deadline)), func() check.Verdict {
			v := check.Verdict{Command: cmd, Result: probe.Result{State: exitcode.Critical, Timeout: true,
				Err: context.DeadlineExceeded, Summary: "no verdict within " + probe.Millis(cmd.Deadline)}}
			v.Trace = log.Lines()
			return v
		}, out)
		defer stop()
	}
	v := cmd.Run(ctx, cmd.Target, log)
	v.Trace = log.Lines()
	return out.print(v)
}

// internalError turns a panic into an UNKNOWN verdict; the stack trace
// goes to stderr, never to the caller's first line.
func internalError(command string, stderr io.Writer, p any) check.Verdict {
	msg := "internal error: " + panicText(p)
	io.WriteString(stderr, command+": panic: "+panicText(p)+"\n"+string(debug.Stack()))
	return check.Verdict{Result: probe.Result{State: exitcode.Unknown, Summary: msg}}
}

// panicText formats a panic's value; fmt is fine here, off the OK path.
func panicText(p any) string { return fmt.Sprint(p) }

// prescan finds --format and --exit-style before parsing, so that even an
// argument error is reported in the form and with the exit code the caller
// asked for: under keepalived's misc_dynamic a bad-usage exit 3 would read
// as "up".
func prescan(args []string) (format string, style exitcode.Style) {
	format, style = "text", exitcode.Nagios
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		for _, name := range [...]string{"--format", "--exit-style"} {
			var val string
			switch {
			case strings.HasPrefix(a, name+"="):
				val = a[len(name)+1:]
			case a == name && i+1 < len(args):
				val = args[i+1]
			default:
				continue
			}
			if name == "--format" && (val == "json" || val == "text") {
				format = val
			} else if s, err := exitcode.ParseStyle(val); name == "--exit-style" && err == nil {
				style = s
			}
		}
	}
	return format, style
}

// usageText puts an argument error on one line.
func usageText(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// growStack makes the goroutine's stack as large as a check needs, once,
// while it is shallow. A goroutine starts small and doubles its stack each
// time a call would overflow it, copying every frame it holds; a check
// going down to a TLS handshake or a name lookup would do that four or
// five times, each copy deeper than the last.
//
//go:noinline
func growStack() byte {
	var pad [32 << 10]byte
	return pad[stackIndex]
}

// stackIndex is not a constant, so the frame above is really allocated.
var stackIndex = 1
