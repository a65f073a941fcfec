package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/check/checktest"
	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
)

// fakeSweeper is the half-open Mux's sweep API in memory: it records what
// it is given and ends each probe with the result the test sets (or
// holds it: no Done until the test calls done).
type fakeSweeper struct {
	mu         sync.Mutex
	registered map[*halfopen.SweepTarget]bool
	unregs     int
	refuse     error
	sweeps     []int // targets per Sweep call
	result     map[netip.AddrPort]probe.Result
	hold       bool
	async      bool // Done from a goroutine of its own, as the Mux calls it
	held       []*halfopen.SweepTarget
}

func newFakeSweeper() *fakeSweeper {
	return &fakeSweeper{registered: map[*halfopen.SweepTarget]bool{}, result: map[netip.AddrPort]probe.Result{}}
}

func (f *fakeSweeper) Register(t *halfopen.SweepTarget) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return f.refuse
	}
	if f.registered[t] {
		panic("registered twice")
	}
	f.registered[t] = true
	return nil
}

func (f *fakeSweeper) Unregister(t *halfopen.SweepTarget) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.registered[t] {
		panic("unregistered a target not registered")
	}
	delete(f.registered, t)
	f.unregs++
}

func (f *fakeSweeper) Sweep(ts []*halfopen.SweepTarget) {
	f.mu.Lock()
	f.sweeps = append(f.sweeps, len(ts))
	var now []*halfopen.SweepTarget
	for _, t := range ts {
		if !f.registered[t] {
			panic("swept a target not registered")
		}
		if f.hold {
			f.held = append(f.held, t)
		} else {
			now = append(now, t)
		}
	}
	f.mu.Unlock()
	for _, t := range now {
		if f.async {
			go f.end(t)
		} else {
			f.end(t)
		}
	}
}

func (f *fakeSweeper) end(t *halfopen.SweepTarget) {
	f.mu.Lock()
	r, ok := f.result[t.Addr]
	f.mu.Unlock()
	if !ok {
		r = probe.OK("port open (SYN+ACK) on %s, 0.10 ms after the SYN", t.Addr)
		r.Took = 100 * time.Microsecond
	}
	t.Done(t, r, time.Now())
}

// done ends the held probes.
func (f *fakeSweeper) done() {
	f.mu.Lock()
	held := f.held
	f.held, f.hold = nil, false
	f.mu.Unlock()
	for _, t := range held {
		f.end(t)
	}
}

func (f *fakeSweeper) calls() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.sweeps...)
}

func (f *fakeSweeper) count() (registered, unregistered int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.registered), f.unregs
}

// halfOpenRegistry is a fake check under the half-open check's name: the
// daemon sweeps its watches, and its probes are the ordinary path's.
func (b *backend) halfOpenRegistry() checks.Registry {
	reg := b.registry()
	s := reg["check_fake"]
	s.Command = halfopen.Spec.Command
	return checks.Registry{halfopen.Spec.Command: s}
}

const sweepConfig = `allow: [192.0.2.0/24, "2001:db8::/32"]
modules:
  ho: {check: [check_tcp_half_open, -t, "1"], every: 10s, idle: 1m}
  ho2: {check: [check_tcp_half_open, -t, "1", --attempts, "2"], every: 10s}
  fr: {check: [check_tcp_half_open, -t, "1"], every: 10s, fall: 2}
  v4: {check: [check_tcp_half_open, -t, "1", "-4"], every: 10s}
`

// sweepDaemon is watchDaemon with a sweeper, and its debug log in logs.
func sweepDaemon(t *testing.T, reg checks.Registry, text string, clock *fakeClock, sw *fakeSweeper) (*Daemon, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d := &Daemon{base: ctx, flights: map[flightKey]*flight{}}
	d.watches = newWatches(d, ctx, clock.now, []byte("test"))
	logs := &bytes.Buffer{}
	WithSweeper(sw)(d)
	WithLogger(slog.New(slog.NewTextHandler(&syncWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug})))(d)
	d.Swap(mustConfig(t, reg, text))
	return d, logs
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func listed(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "192.0.2.%d:%d, ", i%250+1, 1000+i)
	}
	return strings.TrimSuffix(b.String(), ", ")
}

// TestSweepBatchesATick: the watched half-open targets due in one tick go
// to the sweeper in one Sweep, and their verdicts are the watches'; names
// and --attempts 2 keep the ordinary path, as does a literal of the other
// family than -4 asks for.
func TestSweepBatchesATick(t *testing.T) {
	const n = 50
	useResolver(t, fakeResolver{"svc.example": {netip.MustParseAddr("192.0.2.7")}})
	b := newBackend()
	b.set(1, exitcode.OK)
	clock := newClock()
	sw := newFakeSweeper()
	d, logs := sweepDaemon(t, b.halfOpenRegistry(), strings.Replace(sweepConfig, "idle: 1m}", "idle: 1m, targets: ["+listed(n)+"]}", 1)+
		"  names: {check: [check_tcp_half_open, -t, \"1\"], every: 10s, targets: [\"svc.example:1\"]}\n"+
		"  tries: {check: [check_tcp_half_open, -t, \"1\", --attempts, \"2\"], every: 10s, targets: [192.0.2.8:1]}\n"+
		"  fam: {check: [check_tcp_half_open, -t, \"1\", \"-4\"], every: 10s, targets: [\"[2001:db8::1]:1\"]}\n", clock, sw)
	if reg, _ := sw.count(); reg != n {
		t.Fatalf("%d targets registered, want the %d literals of ho", reg, n)
	}
	clock.add(10 * time.Second) // every slot has come
	d.watches.due(clock.now())
	settle(t, d)
	if calls := sw.calls(); len(calls) != 1 || calls[0] != n {
		t.Errorf("Sweep calls %v, want one of %d targets", calls, n)
	}
	if c := b.calls.Load(); c != 2 {
		t.Errorf("%d probes on the ordinary path, want 2 (a name, --attempts 2)", c)
	}
	for _, why := range []string{
		`module=names target=svc.example:1 why="a name: resolved at each probe"`,
		`module=tries target=192.0.2.8:1 why="--attempts 2: sweeps make one attempt"`,
		`module=fam target=[2001:db8::1]:1 why="not an IPv4 address"`,
	} {
		if !strings.Contains(logs.String(), why) {
			t.Errorf("the debug log does not say %s:\n%s", why, logs)
		}
	}
	swept := 0
	for _, ws := range d.Watches() {
		if ws.Module == "fam" && (ws.Last.State != exitcode.Unknown || !strings.Contains(ws.Last.Summary, "not an IPv4 address")) {
			// The ordinary path says why, as the binary would.
			t.Errorf("an IPv6 literal under -4: %v %q", ws.Last.State, ws.Last.Summary)
		}
		if ws.Module != "ho" {
			continue
		}
		swept++
		if ws.Last.State != exitcode.OK || !strings.HasPrefix(ws.Last.Summary, "port open (SYN+ACK) on ") || !ws.Last.Measured || ws.Last.Took != 100*time.Microsecond {
			t.Errorf("%s: %v %q measured=%v took %v", ws.Target, ws.Last.State, ws.Last.Summary, ws.Last.Measured, ws.Last.Took)
		}
	}
	if swept != n {
		t.Errorf("%d swept watches have a verdict, want %d", swept, n)
	}
	if d.InFlight() != 0 {
		t.Errorf("in flight %d", d.InFlight())
	}
}

// TestSweepRegisterRefused: a target the sweeper refuses is probed on the
// ordinary path, and the debug log says why.
func TestSweepRegisterRefused(t *testing.T) {
	b := newBackend()
	b.set(1, exitcode.OK)
	sw := newFakeSweeper()
	sw.refuse = errors.New("no raw socket with mark 0x7")
	d, logs := sweepDaemon(t, b.halfOpenRegistry(), sweepConfig, newClock(), sw)
	res, err := ask(t, d, "ho", "192.0.2.5:1")
	if err != nil || res.State != exitcode.OK || b.calls.Load() != 1 || len(sw.calls()) != 0 {
		t.Fatalf("ask: %v %v, %d ordinary probes, sweeps %v; want the ordinary path's OK", res.State, err, b.calls.Load(), sw.calls())
	}
	if l := logs.String(); !strings.Contains(l, "level=DEBUG") || !strings.Contains(l, "no raw socket with mark 0x7") || !strings.Contains(l, "192.0.2.5:1") {
		t.Errorf("the debug log does not say why: %q", l)
	}
}

// TestSweepUnregister: a watch's target is unregistered when the watch
// ends (idle), when a reload ends it (its module changed), and not when a
// reload keeps it.
func TestSweepUnregister(t *testing.T) {
	b := newBackend()
	reg := b.halfOpenRegistry()
	clock := newClock()
	sw := newFakeSweeper()
	d, _ := sweepDaemon(t, reg, sweepConfig, clock, sw)
	for _, tg := range []string{"192.0.2.5:1", "192.0.2.6:1"} {
		if _, err := ask(t, d, "ho", tg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ask(t, d, "fr", "192.0.2.5:1"); err != nil {
		t.Fatal(err)
	}
	if r, u := sw.count(); r != 3 || u != 0 {
		t.Fatalf("registered %d, unregistered %d; want 3, 0", r, u)
	}
	// Idle (1 m): 192.0.2.5 is asked no more, 192.0.2.6 is.
	for range 8 {
		d.watches.due(clock.add(10 * time.Second))
		settle(t, d)
		ask(t, d, "ho", "192.0.2.6:1")
		ask(t, d, "fr", "192.0.2.5:1")
	}
	if r, u := sw.count(); r != 2 || u != 1 || d.watches.lookup(watchKey{"ho", "192.0.2.5", 1}) != nil {
		t.Errorf("after idle: registered %d, unregistered %d; want 2, 1", r, u)
	}
	// A reload that changes fr's command line ends its watch; ho's stays.
	kept := d.watches.lookup(watchKey{"ho", "192.0.2.6", 1})
	d.Swap(mustConfig(t, reg, strings.Replace(sweepConfig, `fr: {check: [check_tcp_half_open, -t, "1"]`, `fr: {check: [check_tcp_half_open, -t, "0.5"]`, 1)))
	if r, u := sw.count(); r != 1 || u != 2 || d.watches.lookup(watchKey{"ho", "192.0.2.6", 1}) != kept {
		t.Errorf("after a reload: registered %d, unregistered %d, kept %v; want 1, 2, the same watch", r, u, d.watches.lookup(watchKey{"ho", "192.0.2.6", 1}) == kept)
	}
	// The new fr watch is swept with the new deadline.
	if _, err := ask(t, d, "fr", "192.0.2.5:1"); err != nil {
		t.Fatal(err)
	}
	if w := d.watches.lookup(watchKey{"fr", "192.0.2.5", 1}); w == nil || w.sweep == nil || w.sweep.target.Timeout != 500*time.Millisecond {
		t.Errorf("fr's new watch: %+v", w)
	}
	d.Swap(mustConfig(t, reg, "allow: [192.0.2.0/24]\nmodules:\n  other: {check: [check_tcp_half_open, -t, \"1\"], every: 10s}\n"))
	if r, _ := sw.count(); r != 0 {
		t.Errorf("%d targets still registered after their modules went", r)
	}
}

// TestSweepDoneAfterClose: a sweep probe whose Done comes after Close is
// no verdict (as a cancelled probe), and the ask waiting on it gets none.
func TestSweepDoneAfterClose(t *testing.T) {
	b := newBackend()
	clock := newClock()
	sw := newFakeSweeper()
	sw.hold = true
	d, _ := sweepDaemon(t, b.halfOpenRegistry(), sweepConfig, clock, sw)
	errc := make(chan error, 1)
	go func() { _, err := ask(t, d, "ho", "192.0.2.5:1"); errc <- err }()
	waitFor(t, "the ask's sweep", func() bool { return len(sw.calls()) == 1 })
	d.Close()
	sw.done() // the Mux's Done, after Close
	var r *Refused
	if err := <-errc; !errors.As(err, &r) || r.Reason != NoVerdict {
		t.Errorf("ask whose sweep ended after Close: %v, want no verdict", err)
	}
	if w := d.watches.lookup(watchKey{"ho", "192.0.2.5", 1}); w.snap.Load() != nil || w.busy {
		t.Errorf("a verdict recorded after Close, or the flight not ended: busy=%v", w.busy)
	}
}

// TestSweepSendFailureNotDown: a SYN the sweeper could not send is
// UNKNOWN for that target, refused by the fronts and counted toward
// neither fall nor rise: never a "down".
func TestSweepSendFailureNotDown(t *testing.T) {
	b := newBackend()
	clock := newClock()
	sw := newFakeSweeper()
	d, _ := sweepDaemon(t, b.halfOpenRegistry(), sweepConfig, clock, sw)
	addr := netip.MustParseAddrPort("192.0.2.5:1")
	probeAndAsk := func(r *probe.Result) (Result, error) {
		sw.mu.Lock()
		delete(sw.result, addr)
		if r != nil {
			sw.result[addr] = *r
		}
		sw.mu.Unlock()
		clock.add(12 * time.Second) // stale: the ask sweeps
		return ask(t, d, "fr", "192.0.2.5:1")
	}
	if res, err := probeAndAsk(nil); err != nil || res.State != exitcode.OK {
		t.Fatalf("first ask: %v %v", res.State, err)
	}
	eperm := probe.Result{State: exitcode.Unknown, Summary: "SYN to 192.0.2.5:1 not sent: operation not permitted",
		Err: fmt.Errorf("%w: EPERM", halfopen.ErrSendFailed)}
	for i := range 3 { // fall is 2
		res, err := probeAndAsk(&eperm)
		if err != nil || res.State != exitcode.Unknown {
			t.Fatalf("send failure %d: %v %v, want UNKNOWN (which the fronts refuse)", i+1, res.State, err)
		}
	}
	snap := d.watches.lookup(watchKey{"fr", "192.0.2.5", 1}).snap.Load()
	if !snap.up || snap.fails != 0 || snap.counted != 1 {
		t.Errorf("after three send failures: up=%v fails=%d counted=%d; want up, 0, 1", snap.up, snap.fails, snap.counted)
	}
	if ws := d.Watches(); len(ws) != 1 || ws[0].Refused != "unknown" {
		t.Errorf("Watches: %+v", ws)
	}
	if res, err := probeAndAsk(nil); err != nil || res.State != exitcode.OK {
		t.Errorf("after the failures, an answer: %v %v", res.State, err)
	}
}

// TestSweepAsk: a first ask and a stale ask about a swept target go
// through the sweeper (a one-target Sweep), take no slot of
// max_in_flight, and asks at once share one probe.
func TestSweepAsk(t *testing.T) {
	b := newBackend()
	clock := newClock()
	sw := newFakeSweeper()
	sw.hold, sw.async = true, true
	d, _ := sweepDaemon(t, b.halfOpenRegistry(), strings.Replace(sweepConfig, "modules:", "max_in_flight: 1\nmodules:", 1), clock, sw)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := ask(t, d, "ho", "192.0.2.5:1"); err != nil || res.State != exitcode.OK {
				errs <- fmt.Errorf("%v %v", res.State, err)
			}
		}()
	}
	waitFor(t, "the first ask's sweep", func() bool { return len(sw.calls()) == 1 })
	// Another target's first ask: max_in_flight 1 does not refuse it.
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := ask(t, d, "ho", "192.0.2.6:1"); err != nil {
			errs <- err
		}
	}()
	waitFor(t, "the second target's sweep", func() bool { return len(sw.calls()) == 2 })
	if n := d.InFlight(); n != 0 {
		t.Errorf("%d in flight counted for sweeps", n)
	}
	sw.done()
	wg.Wait()
	settle(t, d)
	if calls := sw.calls(); len(calls) != 2 || calls[0] != 1 || calls[1] != 1 || b.calls.Load() != 0 {
		t.Errorf("sweeps %v and %d ordinary probes; want two one-target sweeps, none", calls, b.calls.Load())
	}
	clock.add(12 * time.Second) // stale
	if res, err := ask(t, d, "ho", "192.0.2.5:1"); err != nil || res.State != exitcode.OK || len(sw.calls()) != 3 {
		t.Errorf("stale ask: %v %v, sweeps %v", res.State, err, sw.calls())
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSweepVerdictLikeOrdinary: the same probe result reads the same
// whether the sweep or the ordinary path probed: the time stated, a
// timeout's "after", --timeout-state.
func TestSweepVerdictLikeOrdinary(t *testing.T) {
	open := probe.OK("port open (SYN+ACK) on 192.0.2.5:1, 0.25 ms after the SYN")
	open.Took = 250 * time.Microsecond
	silent := probe.Result{State: exitcode.Critical, Timeout: true, Summary: "no answer (filtered?) from 192.0.2.5:1 to 2 SYNs"}
	after := regexp.MustCompile(` after [0-9.]+ m?s$`)
	for _, tt := range []struct {
		name   string
		module string
		r      probe.Result
	}{
		{"open, -w", `{check: [check_tcp_half_open, -t, "0.5", -w, "0.0001"], every: 10s}`, open},
		{"timeout", `{check: [check_tcp_half_open, -t, "0.5"], every: 10s}`, silent},
		{"timeout state", `{check: [check_tcp_half_open, -t, "0.5", --timeout-state, warning], every: 10s}`, silent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := checktest.New(func(ctx context.Context, _ probe.Target) probe.Result {
				if tt.r.Timeout {
					<-ctx.Done()
				}
				return tt.r
			})
			reg.Command = halfopen.Spec.Command
			text := "allow: [192.0.2.0/24]\nmodules:\n  m: " + tt.module + "\n"
			sw := newFakeSweeper()
			sw.result[netip.MustParseAddrPort("192.0.2.5:1")] = tt.r
			swept, _ := sweepDaemon(t, checks.Registry{halfopen.Spec.Command: reg.Spec}, text, newClock(), sw)
			plain := watchDaemon(t, checks.Registry{halfopen.Spec.Command: reg.Spec}, text, newClock())
			a, errA := ask(t, swept, "m", "192.0.2.5:1")
			o, errO := ask(t, plain, "m", "192.0.2.5:1")
			if errA != nil || errO != nil || len(sw.calls()) != 1 {
				t.Fatalf("asks: %v, %v; sweeps %v", errA, errO, sw.calls())
			}
			if a.State != o.State || after.ReplaceAllString(a.Summary, " after X") != after.ReplaceAllString(o.Summary, " after X") ||
				a.Measured != o.Measured || a.Took != o.Took && !tt.r.Timeout || a.Timeout != o.Timeout || a.Target.Addr != o.Target.Addr {
				t.Errorf("swept:    %v %q measured=%v took=%v %v\nordinary: %v %q measured=%v took=%v %v",
					a.State, a.Summary, a.Measured, a.Took, a.Target.Addr, o.State, o.Summary, o.Measured, o.Took, o.Target.Addr)
			}
			if tt.r.Timeout && !after.MatchString(a.Summary) {
				t.Errorf("swept timeout %q: no \"after\"", a.Summary)
			}
		})
	}
}

// TestSweepLost: a sweep probe whose Done never comes (a sweeper's bug)
// stops the watch only until its deadline and a second have passed: the
// next slot after that sweeps it again.
func TestSweepLost(t *testing.T) {
	b := newBackend()
	clock := newClock()
	sw := newFakeSweeper()
	d, _ := sweepDaemon(t, b.halfOpenRegistry(), strings.Replace(sweepConfig, "idle: 1m}", "idle: 1m, targets: [192.0.2.5:1]}", 1), clock, sw)
	sw.mu.Lock()
	sw.hold = true
	sw.mu.Unlock()
	d.watches.due(clock.add(10 * time.Second))
	sw.mu.Lock()
	sw.held = nil // lost
	sw.mu.Unlock()
	d.watches.due(clock.add(10 * time.Second))
	if calls := sw.calls(); len(calls) != 2 {
		t.Errorf("sweeps %v: the slot after a lost probe did not sweep again", calls)
	}
}

// TestSweepAllocs: collecting a tick's sweep probes and handing them over
// allocates nothing once due's slices have grown.
func TestSweepAllocs(t *testing.T) {
	const n = 200
	b := newBackend()
	clock := newClock()
	sw := &countingSweeper{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d := &Daemon{base: ctx, flights: map[flightKey]*flight{}}
	d.watches = newWatches(d, ctx, clock.now, []byte("test"))
	WithSweeper(sw)(d)
	d.Swap(mustConfig(t, b.halfOpenRegistry(), strings.Replace(sweepConfig, "idle: 1m}", "idle: 1m, targets: ["+listed(n)+"]}", 1)))
	tickOf := func() {
		d.watches.due(clock.add(10 * time.Second))
	}
	tickOf() // grows the slices
	if sw.swept != n {
		t.Fatalf("%d swept, want %d", sw.swept, n)
	}
	if a := testing.AllocsPerRun(20, tickOf); a != 0 {
		t.Errorf("a tick of %d sweep probes allocates %v times", n, a)
	}
	if sw.swept != 22*n {
		t.Errorf("%d swept over 22 ticks, want %d", sw.swept, 22*n)
	}
}

// countingSweeper ends every probe at once without a verdict (a verdict's
// snapshot is the watch's, not the tick's, allocation).
type countingSweeper struct{ swept int }

func (c *countingSweeper) Register(*halfopen.SweepTarget) error { return nil }
func (c *countingSweeper) Unregister(*halfopen.SweepTarget)     {}
func (c *countingSweeper) Sweep(ts []*halfopen.SweepTarget) {
	for _, t := range ts {
		w := t.Owner.(*watch)
		w.mu.Lock()
		w.endFlightLocked()
		w.mu.Unlock()
	}
	c.swept += len(ts)
}

func TestWakeAt(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	for _, tt := range []struct {
		name string
		next time.Time
		want time.Time
	}{
		{"on a tick", base, base},
		{"just after", base.Add(time.Nanosecond), base.Add(tick)},
		{"just before the next", base.Add(tick - time.Nanosecond), base.Add(tick)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := wakeAt(tt.next); !got.Equal(tt.want) {
				t.Errorf("wakeAt(+%v) = +%v, want +%v", tt.next.Sub(base), got.Sub(base), tt.want.Sub(base))
			}
		})
	}
}

// TestSchedulerTicks: 2,000 targets every second, on the real clock: the
// scheduler wakes at most once a tick (about 20 times a second), not once
// a slot (2,000 times), and every target is swept.
func TestSchedulerTicks(t *testing.T) {
	const n = 2000
	b := newBackend()
	sw := newFakeSweeper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &Daemon{base: ctx, flights: map[flightKey]*flight{}}
	d.watches = newWatches(d, ctx, time.Now, []byte("test"))
	WithSweeper(sw)(d)
	var tgs strings.Builder
	for i := range n {
		fmt.Fprintf(&tgs, "192.0.2.%d:%d, ", i%250+1, 1000+i)
	}
	d.Swap(mustConfig(t, b.halfOpenRegistry(), "allow: [192.0.2.0/24]\nmodules:\n  ho: {check: [check_tcp_half_open, -t, \"0.5\"], every: 1s, targets: ["+strings.TrimSuffix(tgs.String(), ", ")+"]}\n"))
	d.watches.start()
	const run = 1500 * time.Millisecond
	time.Sleep(run)
	d.Close()
	swept := 0
	for _, c := range sw.calls() {
		swept += c
	}
	wakes := d.watches.wakes.Load()
	if max := int64(run/tick) + 20; wakes > max {
		t.Errorf("%d wake-ups in %v, want at most %d (one a tick)", wakes, run, max)
	}
	if swept < n {
		t.Errorf("%d probes swept in %v, want every one of %d targets at least once", swept, run, n)
	}
	t.Logf("%d wake-ups, %d Sweep calls, %d probes in %v", wakes, len(sw.calls()), swept, run)
}

// BenchmarkSweepTick is the scheduler's share of a swept probe: taking
// a tick's due watches off the heap, marking them in flight and handing
// them over in one Sweep (the sweeper itself is a counter here).
func BenchmarkSweepTick(b *testing.B) {
	const n = 10_000
	be := newBackend()
	clock := newClock()
	sw := &countingSweeper{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &Daemon{base: ctx, flights: map[flightKey]*flight{}}
	d.watches = newWatches(d, ctx, clock.now, []byte("bench"))
	WithSweeper(sw)(d)
	var tgs strings.Builder
	for i := range n {
		fmt.Fprintf(&tgs, "10.%d.%d.%d:25, ", i>>16, (i>>8)&255, i&255)
	}
	c, err := Parse([]byte("allow: [10.0.0.0/8]\nmodules:\n  ho: {check: [check_tcp_half_open, -t, \"1\"], every: 10s, targets: ["+strings.TrimSuffix(tgs.String(), ", ")+"]}\n"), be.halfOpenRegistry())
	if err != nil {
		b.Fatal(err)
	}
	d.Swap(c)
	d.watches.due(clock.add(10 * time.Second))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d.watches.due(clock.add(10 * time.Second))
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/probe")
	if sw.swept != (b.N+1)*n {
		b.Fatalf("%d swept, want %d", sw.swept, (b.N+1)*n)
	}
}
