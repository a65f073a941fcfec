package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/check/checktest"
	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// gate is a fake check whose probes wait until released, and count.
type gate struct {
	calls   atomic.Int32
	release chan struct{}
	started chan netip.AddrPort
	state   exitcode.State
}

func newGate() *gate {
	return &gate{release: make(chan struct{}), started: make(chan netip.AddrPort, 100), state: exitcode.OK}
}

func (g *gate) registry() checks.Registry {
	f := checktest.New(func(ctx context.Context, t probe.Target) probe.Result {
		g.calls.Add(1)
		t.Log.Printf(1, "probing %s", t.Addr)
		g.started <- t.Addr
		select {
		case <-g.release:
		case <-ctx.Done():
			return probe.Fail("waiting", ctx.Err())
		}
		if g.state == exitcode.OK {
			return probe.OK("fine")
		}
		return probe.Result{State: g.state, Summary: "not fine"}
	})
	return checks.Registry{"check_fake": f.Spec}
}

func mustConfig(t *testing.T, reg checks.Registry, text string) *Config {
	t.Helper()
	c, err := Parse([]byte(text), reg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const fakeConfig = "allow: [192.0.2.0/24, \"2001:db8::/32\"]\nmax_in_flight: 3\nmodules:\n  m: [check_fake, -t, \"5\"]\n  short: [check_fake, -t, \"0.2\"]\n  other: [check_fake]\n"

type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("no such host %s", host)
}

func useResolver(t *testing.T, r fakeResolver) {
	old := defaultResolver
	defaultResolver = r
	t.Cleanup(func() { defaultResolver = old })
}

// TestRefusals: what must not be checked gets no verdict, and says why.
func TestRefusals(t *testing.T) {
	g := newGate()
	close(g.release)
	useResolver(t, fakeResolver{
		"in.example":    {netip.MustParseAddr("192.0.2.7")},
		"out.example":   {netip.MustParseAddr("198.51.100.1")},
		"mixed.example": {netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("2001:db8::7")},
	})
	d := New(context.Background(), mustConfig(t, g.registry(), fakeConfig), nil)
	tests := []struct {
		name   string
		req    Request
		reason Reason // "" for a verdict
		probed string
	}{
		{"ok", Request{Module: "m", Target: "192.0.2.5:80"}, "", "192.0.2.5:80"},
		{"default port", Request{Module: "m", Target: "192.0.2.5"}, "", "192.0.2.5:7"},
		{"agent form", Request{Module: "m", Target: "2001:db8::5", Port: "443"}, "", "[2001:db8::5]:443"},
		{"bracketed v6", Request{Module: "m", Target: "[2001:db8::5]:443"}, "", "[2001:db8::5]:443"},
		{"name inside allow", Request{Module: "m", Target: "in.example:80"}, "", "192.0.2.7:80"},
		{"name with one address inside", Request{Module: "m", Target: "mixed.example:80"}, "", "[2001:db8::7]:80"},
		{"no module", Request{Target: "192.0.2.5:80"}, UnknownModule, ""},
		{"unknown module", Request{Module: "nope", Target: "192.0.2.5:80"}, UnknownModule, ""},
		{"bad port", Request{Module: "m", Target: "192.0.2.5:99999"}, BadTarget, ""},
		{"bad host", Request{Module: "m", Target: "a b:80"}, BadTarget, ""},
		{"two ports", Request{Module: "m", Target: "192.0.2.5:80", Port: "81"}, BadTarget, ""},
		{"outside allow", Request{Module: "m", Target: "198.51.100.1:80"}, NotAllowed, ""},
		{"mapped outside allow", Request{Module: "m", Target: "[::ffff:198.51.100.1]:80"}, NotAllowed, ""},
		{"name outside allow", Request{Module: "m", Target: "out.example:80"}, NotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for len(g.started) > 0 {
				<-g.started
			}
			res, err := d.Check(context.Background(), tt.req)
			var r *Refused
			switch {
			case tt.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.reason == "":
				if res.State != exitcode.OK || len(g.started) != 1 {
					t.Fatalf("verdict %v %q, %d probes", res.State, res.Summary, len(g.started))
				}
				if got := (<-g.started).String(); got != tt.probed {
					t.Errorf("probed %s, want %s", got, tt.probed)
				}
			case !errors.As(err, &r) || r.Reason != tt.reason:
				t.Fatalf("got %v %v, want refused: %s", res.State, err, tt.reason)
			case len(g.started) != 0:
				t.Errorf("refused, but probed %v", <-g.started)
			}
		})
	}
}

// TestCoalescing: identical requests in flight at once run one probe and
// share its verdict; other targets and modules run their own.
func TestCoalescing(t *testing.T) {
	g := newGate()
	m := NewMetrics(func() float64 { return 0 })
	d := New(context.Background(), mustConfig(t, g.registry(), fakeConfig), m)
	const n = 20
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	reqs := []Request{{Module: "m", Target: "192.0.2.5:80"}, {Module: "m", Target: "192.0.2.6:80"}, {Module: "other", Target: "192.0.2.5:80"}}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = d.Check(context.Background(), reqs[i%len(reqs)])
		}()
	}
	// Three probes start (one per distinct request); the others wait.
	for range 3 {
		select {
		case <-g.started:
		case <-time.After(5 * time.Second):
			t.Fatal("the probes did not start")
		}
	}
	waitFor(t, "every request to join a probe", func() bool { return d.InFlight() == 3 && joined(d) == n })
	close(g.release)
	wg.Wait()
	if c := g.calls.Load(); c != 3 {
		t.Errorf("%d probes for %d requests of 3 kinds, want 3", c, n)
	}
	shared := 0
	for i := range n {
		if errs[i] != nil || results[i].State != exitcode.OK {
			t.Errorf("request %d: %v %v", i, results[i].State, errs[i])
		}
		if results[i].Shared {
			shared++
		}
	}
	if shared != n-3 {
		t.Errorf("%d shared verdicts, want %d", shared, n-3)
	}
	// Once it is over, the same request runs a probe of its own again.
	g.started = make(chan netip.AddrPort, 10)
	if _, err := d.Check(context.Background(), reqs[0]); err != nil || g.calls.Load() != 4 {
		t.Errorf("after the flight: %v, %d probes", err, g.calls.Load())
	}
}

// joined counts the requests waiting on a flight, through a probe of the
// flight table (tests only).
func joined(d *Daemon) int {
	return int(d.waiting.Load())
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
	}
}

// TestMaxInFlight: past max_in_flight a request is refused at once; a
// finished probe frees its slot.
func TestMaxInFlight(t *testing.T) {
	g := newGate()
	d := New(context.Background(), mustConfig(t, g.registry(), fakeConfig), nil)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.Check(context.Background(), Request{Module: "m", Target: fmt.Sprintf("192.0.2.%d:80", i+1)})
		}()
		<-g.started
	}
	_, err := d.Check(context.Background(), Request{Module: "m", Target: "192.0.2.9:80"})
	var r *Refused
	if !errors.As(err, &r) || r.Reason != Overloaded {
		t.Errorf("a fourth probe with max_in_flight 3: %v", err)
	}
	// A request that joins a probe in flight needs no slot.
	done := make(chan error, 1)
	go func() {
		_, err := d.Check(context.Background(), Request{Module: "m", Target: "192.0.2.1:80"})
		done <- err
	}()
	close(g.release)
	wg.Wait()
	if err := <-done; err != nil {
		t.Errorf("joining a probe in flight: %v", err)
	}
	if _, err := d.Check(context.Background(), Request{Module: "m", Target: "192.0.2.9:80"}); err != nil || d.InFlight() != 0 {
		t.Errorf("after the probes ended: %v, %d in flight", err, d.InFlight())
	}
}

// TestDeadlines: the probe gets the module's -t, or the caller's shorter
// deadline; a caller whose context ends first gets no verdict, and the
// probe still ends by its own deadline and frees its slot.
func TestDeadlines(t *testing.T) {
	var got atomic.Int64 // the probe's deadline, Unix nanoseconds
	f := checktest.New(func(ctx context.Context, _ probe.Target) probe.Result {
		dl, _ := ctx.Deadline()
		got.Store(dl.UnixNano())
		<-ctx.Done()
		return probe.Fail("waiting", ctx.Err())
	})
	d := New(context.Background(), mustConfig(t, checks.Registry{"check_fake": f.Spec}, fakeConfig), nil)
	tests := []struct {
		name     string
		module   string
		deadline time.Duration
		want     time.Duration
	}{
		{"module's", "short", 0, 200 * time.Millisecond},
		{"caller's shorter", "short", 100 * time.Millisecond, 100 * time.Millisecond},
		{"module's shorter", "short", 3 * time.Second, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res, err := d.Check(context.Background(), Request{Module: tt.module, Target: "192.0.2.5:80", Deadline: tt.deadline})
			end := time.Now()
			if err != nil || !res.Timeout || res.State != exitcode.Critical {
				t.Fatalf("%v %v %q", err, res.State, res.Summary)
			}
			// The deadline was set between the call and its return.
			if dl := time.Unix(0, got.Load()); dl.Before(start.Add(tt.want)) || dl.After(end.Add(tt.want)) {
				t.Errorf("probe's deadline %v after the call, want %v", dl.Sub(start), tt.want)
			}
			if res.Deadline != tt.want {
				t.Errorf("Result.Deadline %v, want %v", res.Deadline, tt.want)
			}
		})
	}
	t.Run("caller leaves", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := d.Check(ctx, Request{Module: "short", Target: "192.0.2.5:80"})
		var r *Refused
		if !errors.As(err, &r) || r.Reason != NoVerdict {
			t.Fatalf("got %v, want no verdict", err)
		}
		waitFor(t, "the abandoned probe to end by its deadline", func() bool { return d.InFlight() == 0 })
	})
}

// TestSwapKeepsFlights: a probe in flight when the configuration changes
// ends with its module as it was; the next request sees the new modules.
func TestSwapKeepsFlights(t *testing.T) {
	g := newGate()
	reg := g.registry()
	d := New(context.Background(), mustConfig(t, reg, fakeConfig), nil)
	done := make(chan Result, 1)
	go func() {
		res, _ := d.Check(context.Background(), Request{Module: "m", Target: "192.0.2.5:80"})
		done <- res
	}()
	<-g.started
	d.Swap(mustConfig(t, reg, "allow: [198.51.100.0/24]\nmodules: {n: [check_fake, -t, \"3\"]}\n"))
	close(g.release)
	if res := <-done; res.State != exitcode.OK || res.Module.Name != "m" || res.Module.Cmd.Deadline != 5*time.Second {
		t.Errorf("the probe in flight: %v %q, module %s", res.State, res.Summary, res.Module.Name)
	}
	var r *Refused
	if _, err := d.Check(context.Background(), Request{Module: "m", Target: "198.51.100.5:80"}); !errors.As(err, &r) || r.Reason != UnknownModule {
		t.Errorf("module m after the swap: %v", err)
	}
	if _, err := d.Check(context.Background(), Request{Module: "n", Target: "192.0.2.5:80"}); !errors.As(err, &r) || r.Reason != NotAllowed {
		t.Errorf("the old allow after the swap: %v", err)
	}
	if res, err := d.Check(context.Background(), Request{Module: "n", Target: "198.51.100.5:80"}); err != nil || res.Deadline != 3*time.Second {
		t.Errorf("module n: %v %v", err, res.Deadline)
	}
}

// TestDeadlineIsPartOfTheFlight: a request with a shorter deadline (a
// scrape timeout) and one with the module's -t run probes of their own;
// neither gets the verdict of a probe given another deadline.
func TestDeadlineIsPartOfTheFlight(t *testing.T) {
	g := newGate()
	d := New(context.Background(), mustConfig(t, g.registry(), fakeConfig), nil)
	reqs := []Request{{Module: "m", Target: "192.0.2.5:80"}, {Module: "m", Target: "192.0.2.5:80", Deadline: time.Second}}
	var wg sync.WaitGroup
	results := make([]Result, len(reqs))
	for i, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = d.Check(context.Background(), req)
		}()
	}
	for range reqs {
		select {
		case <-g.started:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d probes started for two requests with different deadlines, want 2", g.calls.Load())
		}
	}
	close(g.release)
	wg.Wait()
	for i, res := range results {
		if res.Shared || res.Deadline != []time.Duration{5 * time.Second, time.Second}[i] {
			t.Errorf("request %d: shared %v, deadline %v", i, res.Shared, res.Deadline)
		}
	}
}

// TestTraceIsPartOfTheFlight: a debug request (Trace) never takes an
// ordinary probe's verdict, which has no trace, and an ordinary one never
// waits on a traced probe; OnProbe hears of each probe once, of neither a
// shared verdict nor a refusal.
func TestTraceIsPartOfTheFlight(t *testing.T) {
	g := newGate()
	d := New(context.Background(), mustConfig(t, g.registry(), fakeConfig), nil)
	var mu sync.Mutex
	var heard []Request
	d.OnProbe = func(req Request, _ Result) { mu.Lock(); heard = append(heard, req); mu.Unlock() }
	reqs := []Request{{Module: "m", Target: "192.0.2.5:80"}, {Module: "m", Target: "192.0.2.5:80", Trace: 2}, {Module: "m", Target: "192.0.2.5:80"}}
	var wg sync.WaitGroup
	results := make([]Result, len(reqs))
	for i, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = d.Check(context.Background(), req)
		}()
	}
	for range 2 {
		select {
		case <-g.started:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d probes started for a traced and an ordinary request, want 2", g.calls.Load())
		}
	}
	waitFor(t, "the third request to join", func() bool { return joined(d) == 3 })
	close(g.release)
	wg.Wait()
	if c := g.calls.Load(); c != 2 {
		t.Errorf("%d probes, want 2", c)
	}
	if len(results[1].Trace) != 1 || !strings.Contains(results[1].Trace[0], "probing 192.0.2.5:80") || results[1].Shared {
		t.Errorf("the traced request: shared %v, trace %q", results[1].Shared, results[1].Trace)
	}
	for _, i := range []int{0, 2} {
		if len(results[i].Trace) != 0 {
			t.Errorf("ordinary request %d has a trace: %q", i, results[i].Trace)
		}
	}
	if _, err := d.Check(context.Background(), Request{Module: "nope", Target: "192.0.2.5:80"}); err == nil {
		t.Error("an unknown module got a verdict")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 2 || heard[0].Trace+heard[1].Trace != 2 {
		t.Errorf("OnProbe heard %+v, want the two probes", heard)
	}
}

// TestPanicIsUnknown: a probe that panics is a could-not-check, and its
// flight ends: the next request for the target runs a probe again instead
// of waiting on the dead one.
func TestPanicIsUnknown(t *testing.T) {
	var calls atomic.Int32
	f := checktest.New(func(ctx context.Context, t probe.Target) probe.Result {
		calls.Add(1)
		panic("boom")
	})
	d := New(context.Background(), mustConfig(t, checks.Registry{"check_fake": f.Spec}, fakeConfig), nil)
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := d.Check(ctx, Request{Module: "m", Target: "192.0.2.5:80"})
		cancel()
		if err != nil || res.State != exitcode.Unknown || res.Summary != "internal error: boom" {
			t.Fatalf("request %d: %v, %v %q; want UNKNOWN \"internal error: boom\"", i, err, res.State, res.Summary)
		}
	}
	if calls.Load() != 2 || d.InFlight() != 0 {
		t.Errorf("%d probes, %d in flight; want 2, 0", calls.Load(), d.InFlight())
	}
}
