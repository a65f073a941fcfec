package check

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
	"github.com/lbcheck/lbcheck/internal/target"
	"github.com/lbcheck/lbcheck/internal/threshold"
)

// ErrUsage is wrapped by every error Parse returns: the command line, not
// the network, is at fault.
var ErrUsage = target.ErrUsage

// Command is a parsed command line, ready to run.
type Command struct {
	Spec    *Spec
	Options Options
	Flags   *flags.FlagSet
	// Target is HOST and PORT from the command line (zero for a module).
	Target target.Spec

	Deadline     time.Duration // --timeout
	TimeoutState exitcode.State
	Attempts     int
	RetryDelay   time.Duration
	Thresholds   threshold.Pair
	Family       target.Family
	Socket       sockopt.Options
	Format       string // "text" or "json"
	Style        exitcode.Style
	Verbose      int

	// Help, Version and Man ask for text instead of a check.
	Help, Version, Man bool

	// Resolver overrides name resolution: lbcheckd keeps names to allow.
	Resolver target.Resolver

	common common
}

// usage wraps a message as a bad-usage error.
func usage(msg string) error { return &usageError{msg} }

type usageError struct{ msg string }

func (e *usageError) Error() string { return "bad argument: " + e.msg }
func (e *usageError) Unwrap() error { return ErrUsage }

// Parse reads a check binary's command line: options, HOST and PORT. Every
// error wraps ErrUsage and is one line.
func Parse(spec *Spec, args []string) (*Command, error) {
	c, err := parse(spec, args)
	if err != nil || c.Help || c.Version || c.Man {
		return c, err
	}
	if c.Target, err = target.FromArgs(c.common.host, c.common.port, c.Flags.Args()); err != nil {
		return nil, err
	}
	if c.Target.Port == 0 {
		c.Target.Port = c.Options.DefaultPort()
	}
	if c.Target.Port == 0 {
		return nil, usage("no PORT given, and this check has no default")
	}
	return c, nil
}

// ParseModule reads a module of the daemon: a check's command line without
// HOST and PORT, which each request names. The options that only make sense
// for a process (output form, exit codes, help) are refused.
func ParseModule(spec *Spec, args []string) (*Command, error) {
	c, err := parse(spec, args)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"host", "port", "format", "exit-style", "version", "help", "man"} {
		if c.Flags.Changed(name) {
			return nil, usage("--" + name + " has no meaning in a module: the request names the target, the front the output")
		}
	}
	if len(c.Flags.Args()) > 0 {
		return nil, usage("a module takes no HOST or PORT: " + strconv.Quote(c.Flags.Args()[0]))
	}
	return c, nil
}

func parse(spec *Spec, args []string) (*Command, error) {
	c := &Command{Spec: spec, Options: spec.New(), Flags: flags.NewFlagSet(spec.Command)}
	co := &c.common
	c.Options.Flags(c.Flags)
	co.register(c.Flags)
	if err := c.Flags.Parse(args); err != nil {
		return nil, usage(err.Error())
	}
	c.Help, c.Version, c.Man = co.help, co.version, co.man
	if c.Help || c.Version || c.Man {
		return c, nil
	}

	var err error
	if c.Format = co.format; c.Format != "text" && c.Format != "json" {
		return nil, usage("--format " + strconv.Quote(co.format) + ": want text or json")
	}
	if c.Style, err = exitcode.ParseStyle(co.exitStyle); err != nil {
		return nil, usage("--exit-style: " + err.Error())
	}
	if c.Deadline = time.Duration(co.timeout); c.Deadline <= 0 {
		return nil, usage("--timeout must be more than 0 seconds")
	}
	if c.Attempts = co.attempts; c.Attempts < 1 || c.Attempts > 100 {
		return nil, usage("--attempts " + strconv.Itoa(co.attempts) + ": want 1 to 100")
	}
	c.RetryDelay = time.Duration(co.retryDelay)
	c.TimeoutState = exitcode.State(co.timeoutState)
	c.Thresholds = threshold.Pair{Warning: co.warning.r, Critical: co.critical.r}
	c.Verbose = co.verbose

	switch {
	case co.ipv4 && co.ipv6:
		return nil, usage("-4 and -6 exclude each other")
	case co.ipv4:
		c.Family = target.IPv4
	case co.ipv6:
		c.Family = target.IPv6
	}
	if co.bind != "" {
		if c.Socket.Bind, err = sockopt.ParseBind(co.bind); err != nil {
			return nil, usage(err.Error())
		}
		// A source address fixes the family a name must resolve to.
		bindFamily := target.IPv6
		if c.Socket.Bind.Is4() {
			bindFamily = target.IPv4
		}
		if c.Family != target.Any && c.Family != bindFamily {
			return nil, usage("--bind " + co.bind + " is not an " + c.Family.String() + " address")
		}
		c.Family = bindFamily
	}
	mark, fromEnv := co.mark, false
	if !c.Flags.Changed("mark") {
		mark, fromEnv = os.Getenv("MARK"), true
	}
	if mark != "" {
		if c.Socket.Mark, err = sockopt.ParseMark(mark); err != nil {
			if fromEnv {
				return nil, usage("environment variable MARK: " + err.Error())
			}
			return nil, usage("--mark: " + err.Error())
		}
		if err := mayMark(spec.Command, c.Socket.Mark, fromEnv); err != nil {
			return nil, err
		}
	}
	if err := c.Options.Validate(); err != nil {
		var m *Missing
		if errors.Is(err, ErrUsage) || errors.As(err, &m) {
			return nil, err
		}
		return nil, usage(err.Error())
	}
	return c, nil
}

// Run resolves tg once and runs the attempts within ctx, which carries the
// whole run's deadline. It returns when the last attempt does: a probe
// that ignored ctx would hold it, which is why every probe bounds its
// waits by ctx, and why a process (internal/plugin) also keeps a watchdog.
func (c *Command) Run(ctx context.Context, tg target.Spec, log *probe.Log) Verdict {
	if log == nil {
		log = probe.NewLog(0)
	}
	v := c.run(ctx, tg, log)
	// Say why a run was cut short when it was not its deadline: "interrupted
	// by terminated" (a signal), or the daemon's reason.
	if cause := context.Cause(ctx); v.Timeout && cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
		v.Summary += " (" + cause.Error() + ")"
	}
	return v
}

func (c *Command) run(ctx context.Context, tg target.Spec, log *probe.Log) Verdict {
	t := probe.Target{Host: tg.Host, IsName: tg.IsName(), Socket: c.Socket, Log: log}
	v := Verdict{Command: c, Target: &t}
	if tg.Port == 0 {
		tg.Port = c.Options.DefaultPort()
	}
	resolving := time.Now()
	ip, err := tg.Resolve(ctx, c.Resolver, c.Family)
	v.Lookup = time.Since(resolving)
	if err != nil {
		v.Result = probe.Fail("cannot resolve "+tg.Host, err)
		if errors.Is(err, target.ErrUsage) {
			v.Result = probe.Result{State: exitcode.Unknown, Summary: err.Error(), Err: err}
		} else if !v.Timeout {
			v.Summary = err.Error()
		}
		return v
	}
	t.Addr = netip.AddrPortFrom(ip, tg.Port)
	if t.IsName {
		log.Printf(1, "%s resolved to %s", tg.Host, ip)
	}

	for i := 1; ; i++ {
		left := c.Attempts - i + 1
		remaining := time.Until(deadlineOf(ctx))
		// Split what is left between the remaining attempts, after setting
		// aside their pauses (at most half of it), so that a silent peer
		// cannot eat the whole deadline on the first try.
		reserve := c.RetryDelay * time.Duration(left-1)
		reserve = min(reserve, remaining/2)
		actx, cancel := context.WithTimeout(ctx, (remaining-reserve)/time.Duration(left))
		start := time.Now()
		r := c.Options.Probe(actx, t)
		v.Attempted(r, time.Since(start), i)
		cancel()
		if r.State != exitcode.Critical || i == c.Attempts || ctx.Err() != nil {
			if i > 1 {
				v.Summary += attemptText(i, c.Attempts)
			}
			return v
		}
		log.Printf(1, "attempt %d of %d: %s", i, c.Attempts, v.Summary)
		pause := time.NewTimer(min(c.RetryDelay, time.Until(deadlineOf(ctx))))
		select {
		case <-pause.C:
		case <-ctx.Done():
			pause.Stop()
			v.Summary += attemptText(i, c.Attempts)
			return v
		}
	}
}

func attemptText(i, n int) string {
	return " (attempt " + strconv.Itoa(i) + " of " + strconv.Itoa(n) + ")"
}

func deadlineOf(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Hour)
	}
	return d
}
