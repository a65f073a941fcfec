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
	"log/slog"
	"net"
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
	"github.com/lbcheck/lbcheck/internal/probe"
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
	// BadRequest is an ask a front cannot read as one question: a method
	// other than GET or HEAD, a parameter given twice, one it does not
	// know, a body. Fronts refuse it before asking the daemon.
	BadRequest Reason = "bad_request"
	// ResolverFailed is a name the daemon's resolver could not answer for
	// (SERVFAIL, REFUSED, no resolver reachable): the daemon could not
	// check, which says nothing of the backend. ResolverTimeout is the
	// same when the resolver did not answer within the probe's deadline.
	ResolverFailed  Reason = "resolver_failed"
	ResolverTimeout Reason = "resolver_timeout"
)

// Reasons are all of them, for metrics.
var Reasons = []Reason{UnknownModule, BadTarget, NotAllowed, Overloaded, NoVerdict, BadRequest, ResolverFailed, ResolverTimeout}

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
	case ResolverFailed:
		return http.StatusInternalServerError
	case ResolverTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusBadRequest
}

// RequestFromHTTP reads an HTTP front's ask, or says why it is not one
// question: status is the answer then, 405 (the Allow header is set on w)
// or 400. Only GET and HEAD ask (HAProxy's http-check, keepalived's
// HTTP_GET and Prometheus all use GET); a body is refused, so that no
// proxy in front reads a different request than the daemon does.
func RequestFromHTTP(w http.ResponseWriter, r *http.Request) (req Request, status int, err error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return req, http.StatusMethodNotAllowed, refuse(BadRequest, "method %s: only GET and HEAD ask", strconv.Quote(clip(r.Method)))
	}
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return req, http.StatusBadRequest, refuse(BadRequest, "a %s with a body: an ask has none", r.Method)
	}
	req, err = RequestFromQuery(r.URL.RawQuery)
	if err != nil {
		return req, http.StatusBadRequest, err
	}
	return req, 0, nil
}

// RequestFromQuery reads an HTTP front's query: exactly one module= and
// one target=, and at most one debug=, nothing else. A parameter given twice is refused rather
// than the first taken: a proxy in front that reads the other value would
// see a verdict for a target it never asked about (HTTP parameter
// pollution). So is a query Go cannot read whole (a ';' separator, a bad
// escape), which r.URL.Query() would silently shorten.
func RequestFromQuery(raw string) (Request, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return Request{}, refuse(BadRequest, "query %s: %v", strconv.Quote(clip(raw)), err)
	}
	for key, vals := range q {
		switch {
		case key != "module" && key != "target" && key != "debug":
			return Request{}, refuse(BadRequest, "parameter %s: only module, target and debug are asked with", strconv.Quote(clip(key)))
		case len(vals) > 1:
			return Request{}, refuse(BadRequest, "parameter %s given %d times: give it once", key, len(vals))
		case key == "debug" && vals[0] != "true" && vals[0] != "false":
			// debug=true asks for the debug page (debugfront), as
			// blackbox_exporter's; anything else is ambiguous.
			return Request{}, refuse(BadRequest, "debug=%s: want true or false", strconv.Quote(clip(vals[0])))
		}
	}
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
	// Trace, when above 0, records the probe's protocol trace at that
	// verbosity (as -v, -vv) in the Result's Trace: debug=true. Ordinary
	// asks leave it 0 and pay nothing for it. A watched target is
	// answered from memory all the same: its watch's probes are untraced.
	Trace int
	// Front names the asking front (agent, check, probe) for metrics.
	Front string
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
	// Watched: the module keeps watch, and this is its answer from
	// memory (Age old), after fall and rise.
	Watched bool
	Age     time.Duration
	// Weight is the agent's weight in percent (agent_weight), 0 for none.
	Weight int
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

	// OnProbe, if set before the daemon serves, is told of every probe
	// run for an ask (not of requests answered by another's probe or from
	// a watch's memory, nor refusals): the debug front's list of recent
	// probes. It must not block.
	OnProbe func(Request, Result)

	watches *watches
	swapMu  sync.Mutex // one Swap at a time: SIGHUP's and a targets file's
	// filesKick wakes WatchTargetsFiles when a configuration with a
	// targets file comes.
	filesKick   chan struct{}
	targetsPoll time.Duration // 0: targetsPollDefault
}

// flightKey is what makes two requests identical: the same module, target
// and deadline. A /check request (the module's -t) must not take the
// verdict of a /probe cut short by a scrape timeout, nor the reverse.
type flightKey struct {
	mod *Module
	// url is a URL target's scheme, path and host: each request has
	// its own copy of the module.
	url      string
	target   string
	deadline time.Duration
	// trace: a debug request must get its own probe's trace, and an
	// ordinary one must not wait on a traced probe's extra work.
	trace int
}

type flight struct {
	done chan struct{}
	res  Result
}

// Option is an optional part of a daemon, given to New.
type Option func(*Daemon)

// WithSweeper has the watched half-open modules' probes of literal
// targets sent in batches by sw: the Mux their modules probe through
// (*halfopen.Mux). Without it every probe runs on its own.
func WithSweeper(sw sweeper) Option {
	return func(d *Daemon) { d.watches.sw = sw }
}

// WithLogger is where the daemon says what an operator may want to know
// (at debug level: which watches are not swept, and why).
func WithLogger(l *slog.Logger) Option {
	return func(d *Daemon) { d.watches.log = l }
}

// discardLog is the logger of a daemon given none.
var discardLog = slog.New(slog.DiscardHandler)

// New is a daemon on cfg. Probes run in contexts derived from base: cancel
// it only to abandon probes, which otherwise end by their own deadline.
func New(base context.Context, cfg *Config, m *Metrics, opts ...Option) *Daemon {
	d := &Daemon{base: base, Metrics: m, flights: map[flightKey]*flight{}, filesKick: make(chan struct{}, 1)}
	d.watches = newWatches(d, base, time.Now, phaseKey())
	for _, o := range opts {
		o(d)
	}
	if m != nil {
		m.watching(d.watches)
	}
	d.Swap(cfg)
	d.watches.start()
	return d
}

// Close ends every watch at once, cancelling their probes in flight.
func (d *Daemon) Close() { d.watches.close() }

// Config is the configuration in force.
func (d *Daemon) Config() *Config { return d.cfg.Load() }

// Swap puts cfg in force for the requests that come next; probes in
// flight keep the modules they started with.
func (d *Daemon) Swap(cfg *Config) {
	d.swapMu.Lock()
	defer d.swapMu.Unlock()
	d.swapLocked(cfg)
}

func (d *Daemon) swapLocked(cfg *Config) {
	d.cfg.Store(cfg)
	if cfg.hasTargetsFile() {
		select {
		case d.filesKick <- struct{}{}:
		default:
		}
	}
	if d.watches != nil {
		d.watches.reconfigure(cfg, d.watches.now())
	}
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
		d.Metrics.observe(req, res, err)
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
	flightMod, url := mod, ""
	if len(req.Options) > 0 {
		var err error
		if mod, url, err = cfg.with(mod, req.Options); err != nil {
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
	if mod.Watch != nil {
		res, err := d.watches.ask(ctx, mod, tg, deadline, cfg.MaxWatches)
		if err != nil {
			return res, err
		}
		return d.refusedByResolver(res)
	}

	key := flightKey{flightMod, url, tg.Host + " " + strconv.Itoa(int(tg.Port)), deadline, req.Trace}
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
	f.res = d.run(mod, tg, deadline, req.Trace)
	d.mu.Lock()
	delete(d.flights, key)
	d.mu.Unlock()
	d.inFlight.Add(-1)
	close(f.done)
	if d.OnProbe != nil {
		d.OnProbe(req, f.res)
	}
	if ctx.Err() != nil {
		return Result{}, refuse(NoVerdict, "no verdict within the caller's deadline")
	}
	return d.refusedByResolver(f.res)
}

// run is one probe, within deadline. A probe that panics is UNKNOWN (it
// could not check), with its stack on stderr: the flight must still end,
// or every later request for the target would wait on it.
func (d *Daemon) run(mod *Module, tg target.Spec, deadline time.Duration, trace int) (res Result) {
	return d.runIn(d.base, mod, tg, deadline, trace)
}

// runIn is run in a context of the caller's: the watch's, which SIGTERM
// cancels.
func (d *Daemon) runIn(base context.Context, mod *Module, tg target.Spec, deadline time.Duration, trace int) (res Result) {
	ctx, cancel := context.WithTimeout(base, deadline)
	defer cancel()
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "lbcheckd: panic in module %s, target %s: %v\n%s", mod.Name, tg.Host, p, debug.Stack())
			v := check.Verdict{Command: mod.Cmd}
			v.State, v.Summary = exitcode.Unknown, fmt.Sprintf("internal error: %v", p)
			res = graded(v, mod, time.Since(start), deadline)
		}
	}()
	var log *probe.Log
	if trace > 0 {
		log = probe.NewLog(trace)
	}
	v := mod.Cmd.Run(ctx, tg, log)
	v.Trace = log.Lines()
	return graded(v, mod, time.Since(start), deadline)
}

// graded is the Result of a verdict of mod's, whose run took took within
// deadline: a probe's, or a sweep's (sweepDone).
func graded(v check.Verdict, mod *Module, took, deadline time.Duration) Result {
	res := Result{Verdict: v, Module: mod, Duration: took, Deadline: deadline}
	res.State, res.Summary = v.Graded()
	return res
}

// refusedByResolver turns what the resolver said into the refusal it is,
// rather than a verdict: a name that resolved outside allow, or a
// resolver that did not answer for the name (could not check: every
// backend named by a name would otherwise go down together when the
// daemon's own resolver fails).
func (d *Daemon) refusedByResolver(res Result) (Result, error) {
	switch {
	case errors.Is(res.Err, errNotAllowed):
		return Result{}, refuse(NotAllowed, "%s", res.Err.Error())
	case errors.Is(res.Err, errResolverTimeout):
		return Result{}, refuse(ResolverTimeout, "%s", res.Err.Error())
	case errors.Is(res.Err, errResolverFailed):
		return Result{}, refuse(ResolverFailed, "%s", res.Err.Error())
	}
	return res, nil
}

// errNotAllowed is what allowResolver says of a name that resolves only
// outside allow. It wraps target.ErrUsage, so the run stops as for a bad
// argument (UNKNOWN), never as a failing service.
var errNotAllowed = fmt.Errorf("%w: outside allow", target.ErrUsage)

// What allowResolver says of a resolver that gave no answer about a name:
// it failed (SERVFAIL, REFUSED, unreachable, none configured) or did not
// answer in time. NXDOMAIN (and a name without addresses) is an answer:
// the name does not exist, and the check's verdict (CRITICAL) stands.
var (
	errResolverFailed  = errors.New("the daemon's resolver failed")
	errResolverTimeout = errors.New("the daemon's resolver did not answer in time")
)

// resolverError classifies a failed lookup.
func resolverError(err error) error {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return err
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || (dnsErr != nil && dnsErr.IsTimeout):
		return fmt.Errorf("%w: %w", errResolverTimeout, err)
	}
	return fmt.Errorf("%w: %w", errResolverFailed, err)
}

// allowResolver resolves names with the system's resolver and keeps only
// the addresses allow lets probes reach.
type allowResolver struct{ cfg *Config }

func (r allowResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := defaultResolver.LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, resolverError(err)
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
func clip(s string) string { return clipTo(s, 80) }

// clipTo keeps at most n bytes of s, and says it cut.
func clipTo(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
