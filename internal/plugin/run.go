package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
	"github.com/lbcheck/lbcheck/internal/target"
	"github.com/lbcheck/lbcheck/internal/threshold"
	"github.com/lbcheck/lbcheck/internal/version"
)

// Version is set at build time: -ldflags "-X github.com/lbcheck/lbcheck/internal/plugin.Version=1.2.3".
// Left "dev", --version and --man fall back to the go command's build info.
var Version = "dev"

// Spec describes one check binary.
type Spec struct {
	Name     string // label on the first line: "HTTP_STATUS"
	Command  string // the binary's name: "check_http_status"
	Purpose  string // what a passing check proves, one line
	PortHelp string // how PORT defaults, for the help text
	// DefaultPort is called after parsing; 0 means PORT is required.
	DefaultPort func() uint16
	// Flags registers the check's own options.
	Flags func(*pflag.FlagSet)
	// Validate checks the check's own options after parsing; an error is
	// reported as bad usage before anything is sent.
	Validate func() error
	Examples []Example
	// Probe runs one attempt. It must honour ctx.
	Probe func(ctx context.Context, t probe.Target) probe.Result
	// Resolver overrides name resolution, for tests.
	Resolver target.Resolver
}

// Example is one line of the help's examples.
type Example struct{ Command, What string }

// grace is how long the harness waits, once the deadline has passed, for a
// probe to notice and return its own (more precise) timeout verdict.
const grace = 30 * time.Millisecond

// SignalContext returns a context cancelled by SIGTERM or SIGINT, with the
// signal as its cause. keepalived sends SIGTERM on misc_timeout and HAProxy
// on its check timeout; we then still print a verdict.
func SignalContext() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-ch
		cancel(fmt.Errorf("interrupted by %v", s))
	}()
	return ctx
}

// verdict is everything the output needs.
type verdict struct {
	probe.Result
	target   *probe.Target
	took     time.Duration // the reported attempt's duration
	measured bool          // took is a response time (perfdata, thresholds)
	attempts int
	trace    []string
}

// Run is the whole life of a check: it returns the process exit code.
func Run(ctx context.Context, spec Spec, args []string, stdout, stderr io.Writer) (code int) {
	format, style := prescan(args)
	out := &printer{spec: &spec, w: stdout, format: format, style: style, timeoutState: exitcode.Critical}
	defer func() {
		if p := recover(); p != nil {
			code = out.print(internalError(spec.Command, stderr, p))
		}
	}()

	h, err := parse(&spec, args)
	if err != nil {
		return out.usageError(err)
	}
	if h.common.help {
		fmt.Fprint(stdout, help(&spec, h.fs))
		return 0
	}
	if h.common.version {
		fmt.Fprintf(stdout, "%s %s\n", spec.Command, version.Of(Version))
		return 0
	}
	if h.common.man {
		fmt.Fprint(stdout, manPage(&spec, h.fs))
		return 0
	}
	out.style, out.format, out.timeout = h.style, h.format, h.deadline
	out.thresholds, out.timeoutState = h.thresholds, exitcode.State(h.common.timeoutState)

	ctx, cancel := context.WithTimeout(ctx, h.deadline)
	defer cancel()
	log := probe.NewLog(h.common.verbose)
	done := make(chan verdict, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- internalError(spec.Command, stderr, p)
			}
		}()
		done <- h.check(ctx, log)
	}()

	var v verdict
	select {
	case v = <-done:
	case <-ctx.Done():
		// Give the probe a moment to report its own timeout, then stop
		// waiting: the caller's deadline is a promise, the probe is not.
		t := time.NewTimer(grace)
		select {
		case v = <-done:
		case <-t.C:
			v = verdict{Result: probe.Result{State: exitcode.Critical, Timeout: true, Err: ctx.Err(),
				Summary: "no verdict within " + probe.Millis(h.deadline)}}
		}
		t.Stop()
	}
	if cause := context.Cause(ctx); v.Timeout && cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
		v.Summary += " (" + cause.Error() + ")"
	}
	v.trace = log.Lines()
	return out.print(v)
}

// internalError turns a panic into an UNKNOWN verdict; the stack trace
// goes to stderr, never to the caller's first line.
func internalError(command string, stderr io.Writer, p any) verdict {
	fmt.Fprintf(stderr, "%s: panic: %v\n%s", command, p, debug.Stack())
	return verdict{Result: probe.Result{State: exitcode.Unknown, Summary: fmt.Sprintf("internal error: %v", p)}}
}

// harness is a parsed command line, ready to check.
type harness struct {
	spec       *Spec
	fs         *pflag.FlagSet
	common     common
	target     target.Spec
	family     target.Family
	socket     sockopt.Options
	thresholds threshold.Pair
	deadline   time.Duration
	attempts   int
	retryDelay time.Duration
	format     string
	style      exitcode.Style
}

func parse(spec *Spec, args []string) (*harness, error) {
	h := &harness{spec: spec}
	c := &h.common
	h.fs = pflag.NewFlagSet(spec.Command, pflag.ContinueOnError)
	h.fs.SetOutput(io.Discard)
	h.fs.SortFlags = false
	if spec.Flags != nil {
		spec.Flags(h.fs)
	}
	c.register(h.fs)
	if err := h.fs.Parse(args); err != nil {
		return nil, err
	}
	if c.help || c.version || c.man {
		return h, nil
	}

	var err error
	if h.format = c.format; h.format != "text" && h.format != "json" {
		return nil, fmt.Errorf("--format %q: want text or json", c.format)
	}
	if h.style, err = exitcode.ParseStyle(c.exitStyle); err != nil {
		return nil, fmt.Errorf("--exit-style: %v", err)
	}
	if h.deadline = time.Duration(c.timeout); h.deadline <= 0 {
		return nil, errors.New("--timeout must be more than 0 seconds")
	}
	if h.attempts = c.attempts; h.attempts < 1 || h.attempts > 100 {
		return nil, fmt.Errorf("--attempts %d: want 1 to 100", c.attempts)
	}
	h.retryDelay = time.Duration(c.retryDelay)
	h.thresholds = threshold.Pair{Warning: c.warning.r, Critical: c.critical.r}

	switch {
	case c.ipv4 && c.ipv6:
		return nil, errors.New("-4 and -6 exclude each other")
	case c.ipv4:
		h.family = target.IPv4
	case c.ipv6:
		h.family = target.IPv6
	}
	if c.bind != "" {
		if h.socket.Bind, err = sockopt.ParseBind(c.bind); err != nil {
			return nil, err
		}
		// A source address fixes the family a name must resolve to.
		bindFamily := target.IPv6
		if h.socket.Bind.Is4() {
			bindFamily = target.IPv4
		}
		if h.family != target.Any && h.family != bindFamily {
			return nil, fmt.Errorf("--bind %s is not an %s address", c.bind, h.family)
		}
		h.family = bindFamily
	}
	mark, fromEnv := c.mark, false
	if !h.fs.Changed("mark") {
		mark, fromEnv = os.Getenv("MARK"), true
	}
	if mark != "" {
		if h.socket.Mark, err = sockopt.ParseMark(mark); err != nil {
			if fromEnv {
				return nil, fmt.Errorf("environment variable MARK: %v", err)
			}
			return nil, fmt.Errorf("--mark: %v", err)
		}
	}

	if spec.Validate != nil {
		if err := spec.Validate(); err != nil {
			return nil, err
		}
	}
	if h.target, err = target.FromArgs(c.host, c.port, h.fs.Args()); err != nil {
		return nil, err
	}
	if h.target.Port == 0 && spec.DefaultPort != nil {
		h.target.Port = spec.DefaultPort()
	}
	if h.target.Port == 0 {
		return nil, errors.New("no PORT given, and this check has no default")
	}
	return h, nil
}

// check resolves the target once and runs the attempts.
func (h *harness) check(ctx context.Context, log *probe.Log) verdict {
	t := probe.Target{Host: h.target.Host, IsName: h.target.IsName(), Socket: h.socket, Log: log}
	ip, err := h.target.Resolve(ctx, h.spec.Resolver, h.family)
	if err != nil {
		r := probe.Fail("cannot resolve "+h.target.Host, err)
		if errors.Is(err, target.ErrUsage) {
			r = probe.Result{State: exitcode.Unknown, Summary: err.Error(), Err: err}
		} else if !r.Timeout {
			r.Summary = err.Error()
		}
		return verdict{Result: r, target: &t}
	}
	t.Addr = netip.AddrPortFrom(ip, h.target.Port)
	if t.IsName {
		log.Printf(1, "%s resolved to %s", h.target.Host, ip)
	}

	var v verdict
	for i := 1; ; i++ {
		left := h.attempts - i + 1
		remaining := time.Until(deadlineOf(ctx))
		// Split what is left between the remaining attempts, after setting
		// aside their pauses (at most half of it), so that a silent peer
		// cannot eat the whole deadline on the first try.
		reserve := h.retryDelay * time.Duration(left-1)
		reserve = min(reserve, remaining/2)
		actx, cancel := context.WithTimeout(ctx, (remaining-reserve)/time.Duration(left))
		start := time.Now()
		r := h.spec.Probe(actx, t)
		took := time.Since(start)
		cancel()
		v = verdict{Result: r, target: &t, took: took, measured: !r.Timeout && r.State != exitcode.Unknown, attempts: i}
		if r.Timeout {
			v.Summary += " after " + probe.Millis(took)
		}
		if r.State != exitcode.Critical || i == h.attempts || ctx.Err() != nil {
			if i > 1 {
				v.Summary += fmt.Sprintf(" (attempt %d of %d)", i, h.attempts)
			}
			return v
		}
		log.Printf(1, "attempt %d of %d: %s", i, h.attempts, v.Summary)
		pause := time.NewTimer(min(h.retryDelay, time.Until(deadlineOf(ctx))))
		select {
		case <-pause.C:
		case <-ctx.Done():
			pause.Stop()
			v.Summary += fmt.Sprintf(" (attempt %d of %d)", i, h.attempts)
			return v
		}
	}
}

func deadlineOf(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Hour)
	}
	return d
}

// usageText puts an argument error on one line.
func usageText(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
