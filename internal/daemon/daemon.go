// Package daemon is lbcheckd's core: the configuration and its modules,
// and the runner every front asks for a verdict. The runner refuses what
// it must not check (an unknown module, a target outside allow, more
// probes than max_in_flight), runs one probe for identical requests in
// flight at once, and keeps every probe within its deadline.
//
// The fronts (internal/daemon/probefront for Prometheus,
// internal/daemon/lbfront for load balancers) only translate a verdict,
// or a refusal, into their protocol. A refusal is never a verdict: a
// could-not-check must not read as a backend that failed.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/target"
)

// Reason says why a request got no verdict.
type Reason string

// The reasons a request is refused. Each front documents what it answers
// for each; none of them is "down".
const (
	UnknownModule Reason = "unknown_module"
	BadTarget     Reason = "bad_target"
	NotAllowed    Reason = "not_allowed"
	Overloaded    Reason = "overloaded"
	NoVerdict     Reason = "no_verdict" // the caller's deadline passed first
)

// Reasons are all of them, for metrics.
var Reasons = []Reason{UnknownModule, BadTarget, NotAllowed, Overloaded, NoVerdict}

// Refused is the error of a request that got no verdict.
type Refused struct {
	Reason Reason
	Msg    string
}

func (r *Refused) Error() string { return r.Msg }

func refuse(reason Reason, format string, a ...any) *Refused {
	return &Refused{Reason: reason, Msg: fmt.Sprintf(format, a...)}
}

// HTTPStatus is what an HTTP front answers a refusal (every error of
// Check) with: never one that reads as the backend's verdict. noVerdict is
// the front's own answer to NoVerdict.
func HTTPStatus(err error, noVerdict int) int {
	r, ok := err.(*Refused)
	if !ok {
		return http.StatusInternalServerError
	}
	switch r.Reason {
	case NotAllowed:
		return http.StatusForbidden
	case Overloaded:
		return http.StatusTooManyRequests
	case NoVerdict:
		return noVerdict
	}
	return http.StatusBadRequest
}

// RequestFromQuery reads an HTTP front's module= and target= parameters.
func RequestFromQuery(q url.Values) (Request, error) {
	req := Request{Module: q.Get("module"), Target: q.Get("target")}
	if req.Target == "" {
		return req, refuse(BadTarget, "target parameter is missing")
	}
	return req, nil
}

// Request is one question of a front.
type Request struct {
	Module string
	// Target is HOST, HOST:PORT or [v6]:PORT; Port, if set, goes with a
	// bare HOST (the agent protocol's "MODULE HOST PORT").
	Target string
	Port   string
	// Options are added to the module's command line for this request:
	// what a URL target says (URLTarget).
	Options []string
	// Deadline, when set and shorter than the module's -t, bounds the
	// probe instead (Prometheus' scrape timeout, less a margin).
	Deadline time.Duration
}

// Result is a verdict and what the fronts say about it.
type Result struct {
	check.Verdict
	Module   *Module
	Duration time.Duration // the whole run, resolution and attempts included
	Deadline time.Duration // what the probe was given
	State    exitcode.State
	Summary  string
	Shared   bool // another request's probe answered this one
}

// Daemon runs probes for the fronts.
type Daemon struct {
	cfg      atomic.Pointer[Config]
	base     context.Context
	inFlight atomic.Int64
	waiting  atomic.Int64 // requests waiting on a flight, leaders included
	Metrics  *Metrics

	mu      sync.Mutex
	flights map[flightKey]*flight
}

// flightKey is what makes two requests identical: the same module, target
// and deadline. A /check request (the module's -t) must not take the
// verdict of a /probe cut short by a scrape timeout, nor the reverse.
type flightKey struct {
	mod      *Module
	target   string
	deadline time.Duration
}

type flight struct {
	done chan struct{}
	res  Result
}

// New is a daemon on cfg. Probes run in contexts derived from base: cancel
// it only to abandon probes, which otherwise end by their own deadline.
func New(base context.Context, cfg *Config, m *Metrics) *Daemon {
	d := &Daemon{base: base, Metrics: m, flights: map[flightKey]*flight{}}
	d.Swap(cfg)
	return d
}

// Config is the configuration in force.
func (d *Daemon) Config() *Config { return d.cfg.Load() }

// Swap puts cfg in force for the requests that come next; probes in
// flight keep the modules they started with.
func (d *Daemon) Swap(cfg *Config) {
	d.cfg.Store(cfg)
	if d.Metrics != nil {
		d.Metrics.configured(cfg)
	}
}

// InFlight is the number of probes running now.
func (d *Daemon) InFlight() int64 { return d.inFlight.Load() }

// Check answers a request with a verdict, or a *Refused error. ctx is the
// caller's: when it ends first the caller gets NoVerdict, and the probe
// still ends by its own deadline.
func (d *Daemon) Check(ctx context.Context, req Request) (Result, error) {
	res, err := d.check(ctx, req)
	if d.Metrics != nil {
		d.Metrics.observe(req.Module, res, err)
	}
	return res, err
}

func (d *Daemon) check(ctx context.Context, req Request) (Result, error) {
	cfg := d.cfg.Load()
	mod, ok := cfg.Modules[req.Module]
	if !ok {
		if req.Module == "" {
			return Result{}, refuse(UnknownModule, "no module named")
		}
		return Result{}, refuse(UnknownModule, "unknown module %s", strconv.Quote(clip(req.Module)))
	}
	if len(req.Options) > 0 {
		var err error
		if mod, err = cfg.with(mod, req.Options); err != nil {
			return Result{}, err
		}
	}
	args := []string{req.Target}
	if req.Port != "" {
		args = append(args, req.Port)
	}
	tg, err := target.FromArgs("", "", args)
	if err != nil {
		return Result{}, refuse(BadTarget, "target %s: %v", strconv.Quote(clip(req.Target)), err)
	}
	if tg.Port == 0 {
		tg.Port = mod.Cmd.Options.DefaultPort()
	}
	if tg.Port == 0 {
		return Result{}, refuse(BadTarget, "target %s: module %s needs a PORT", strconv.Quote(clip(req.Target)), mod.Name)
	}
	if tg.IP.IsValid() && !cfg.Allowed(tg.IP) {
		return Result{}, refuse(NotAllowed, "target %s is outside allow", tg.IP)
	}
	deadline := mod.Cmd.Deadline
	if req.Deadline > 0 && req.Deadline < deadline {
		deadline = req.Deadline
	}

	key := flightKey{mod, tg.Host + " " + strconv.Itoa(int(tg.Port)), deadline}
	d.waiting.Add(1)
	defer d.waiting.Add(-1)
	d.mu.Lock()
	if f, ok := d.flights[key]; ok {
		d.mu.Unlock()
		select {
		case <-f.done:
			res := f.res
			res.Shared = true
			return d.refusedByResolver(res)
		case <-ctx.Done():
			return Result{}, refuse(NoVerdict, "no verdict within the caller's deadline")
		}
	}
	if n := d.inFlight.Add(1); n > int64(cfg.MaxInFlight) {
		d.inFlight.Add(-1)
		d.mu.Unlock()
		return Result{}, refuse(Overloaded, "%d probes in flight, the most max_in_flight allows", cfg.MaxInFlight)
	}
	f := &flight{done: make(chan struct{})}
	d.flights[key] = f
	d.mu.Unlock()

	// The leader runs the probe itself, on the goroutine (and the stack,
	// grown already) serving its connection: a goroutine per probe cost a
	// new stack grown four times over. Callers that join share the
	// verdict. A leader whose caller left still finishes the probe: it
	// ends by its own deadline, and its verdict may serve the others.
	f.res = d.run(mod, tg, deadline)
	d.mu.Lock()
	delete(d.flights, key)
	d.mu.Unlock()
	d.inFlight.Add(-1)
	close(f.done)
	if ctx.Err() != nil {
		return Result{}, refuse(NoVerdict, "no verdict within the caller's deadline")
	}
	return d.refusedByResolver(f.res)
}

// run is one probe, within deadline. A probe that panics is UNKNOWN (it
// could not check), with its stack on stderr: the flight must still end,
// or every later request for the target would wait on it.
func (d *Daemon) run(mod *Module, tg target.Spec, deadline time.Duration) (res Result) {
	ctx, cancel := context.WithTimeout(d.base, deadline)
	defer cancel()
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "lbcheckd: panic in module %s, target %s: %v\n%s", mod.Name, tg.Host, p, debug.Stack())
			v := check.Verdict{Command: mod.Cmd}
			v.State, v.Summary = exitcode.Unknown, fmt.Sprintf("internal error: %v", p)
			res = Result{Verdict: v, Module: mod, Duration: time.Since(start), Deadline: deadline}
			res.State, res.Summary = v.Graded()
		}
	}()
	v := mod.Cmd.Run(ctx, tg, nil)
	res = Result{Verdict: v, Module: mod, Duration: time.Since(start), Deadline: deadline}
	res.State, res.Summary = v.Graded()
	return res
}

// refusedByResolver turns a name that resolved outside allow into the
// refusal it is, rather than a verdict.
func (d *Daemon) refusedByResolver(res Result) (Result, error) {
	if errors.Is(res.Err, errNotAllowed) {
		return Result{}, refuse(NotAllowed, "%s", res.Err.Error())
	}
	return res, nil
}

// errNotAllowed is what allowResolver says of a name that resolves only
// outside allow. It wraps target.ErrUsage, so the run stops as for a bad
// argument (UNKNOWN), never as a failing service.
var errNotAllowed = fmt.Errorf("%w: outside allow", target.ErrUsage)

// allowResolver resolves names with the system's resolver and keeps only
// the addresses allow lets probes reach.
type allowResolver struct{ cfg *Config }

func (r allowResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := defaultResolver.LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, err
	}
	ok := addrs[:0:0]
	for _, a := range addrs {
		if r.cfg.Allowed(a) {
			ok = append(ok, a)
		}
	}
	if len(ok) == 0 && len(addrs) > 0 {
		return nil, fmt.Errorf("%s resolves to %s: %w", host, addrs[0].Unmap(), errNotAllowed)
	}
	return ok, nil
}

// clip keeps what a caller sent short in a message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
