package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/check/checktest"
	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/target"
)

// fakeClock is the watch's time in tests: it moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// backend is a fake check whose verdict per port the test sets; a probe
// may be held until released.
type backend struct {
	calls atomic.Int32
	mu    sync.Mutex
	state map[uint16]exitcode.State
	hold  chan struct{} // nil: answer at once
	// during, if set, runs within each probe: e.g. moves a fake clock,
	// for a probe that takes that long.
	during func()
}

func newBackend() *backend { return &backend{state: map[uint16]exitcode.State{}} }

func (b *backend) set(port uint16, s exitcode.State) {
	b.mu.Lock()
	b.state[port] = s
	b.mu.Unlock()
}

func (b *backend) registry() checks.Registry {
	f := checktest.New(func(ctx context.Context, t probe.Target) probe.Result {
		b.calls.Add(1)
		b.mu.Lock()
		s, hold, during := b.state[t.Addr.Port()], b.hold, b.during
		b.mu.Unlock()
		if during != nil {
			during()
		}
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
				return probe.Fail("held", ctx.Err())
			}
		}
		switch s {
		case exitcode.OK:
			return probe.OK("fine")
		case exitcode.Unknown:
			return probe.Result{State: exitcode.Unknown, Summary: "could not"}
		}
		return probe.Critical("down")
	})
	return checks.Registry{"check_fake": f.Spec}
}

const watchConfig = `allow: [192.0.2.0/24]
max_watches: 4
modules:
  once: [check_fake, -t, "1"]
  w: {check: [check_fake, -t, "1"], every: 10s, idle: 1m}
  fr: {check: [check_fake, -t, "1"], every: 10s, fall: 2, rise: 3}
`

// watchDaemon is a daemon whose watch runs on clock, its scheduler driven
// by the test (s.due) rather than by timers.
func watchDaemon(t *testing.T, reg checks.Registry, text string, clock *fakeClock) *Daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d := &Daemon{base: ctx, flights: map[flightKey]*flight{}}
	d.watches = newWatches(d, ctx, clock.now, []byte("test"))
	d.Swap(mustConfig(t, reg, text))
	return d
}

// settle waits until no watch has a probe in flight.
func settle(t *testing.T, d *Daemon) {
	t.Helper()
	waitFor(t, "the watch's probes to end", func() bool {
		busy := false
		for i := range d.watches.shards {
			sh := &d.watches.shards[i]
			sh.RLock()
			for _, w := range sh.m {
				w.mu.Lock()
				busy = busy || w.busy
				w.mu.Unlock()
			}
			sh.RUnlock()
		}
		return !busy
	})
}

func ask(t *testing.T, d *Daemon, module, target string) (Result, error) {
	t.Helper()
	return d.Check(context.Background(), Request{Module: module, Target: target})
}

// TestPhases: a thousand targets spread over the interval, and the same
// key gives the same phases (a restart keeps them); another key others.
func TestPhases(t *testing.T) {
	const n, every, buckets = 1000, 10 * time.Second, 10
	a := newWatches(nil, context.Background(), time.Now, []byte("host-a"))
	again := newWatches(nil, context.Background(), time.Now, []byte("host-a"))
	b := newWatches(nil, context.Background(), time.Now, []byte("host-b"))
	var count [buckets]int
	same, moved := 0, 0
	for i := range n {
		k := watchKey{"web", fmt.Sprintf("10.0.%d.%d", i/256, i%256), 80}
		p := a.phase(k, every)
		if p < 0 || p >= every {
			t.Fatalf("phase %v outside [0, %v)", p, every)
		}
		count[p*buckets/every]++
		if again.phase(k, every) == p {
			same++
		}
		if b.phase(k, every) != p {
			moved++
		}
	}
	for i, c := range count {
		// 100 expected a bucket; a binomial's 4 sigma is about 38.
		if c < 60 || c > 140 {
			t.Errorf("bucket %d of %d holds %d targets, want about %d: %v", i, buckets, c, n/buckets, count)
		}
	}
	if same != n {
		t.Errorf("%d of %d phases kept across a restart", same, n)
	}
	if moved < n*9/10 {
		t.Errorf("another key moved only %d of %d phases", moved, n)
	}
}

func TestNextSlot(t *testing.T) {
	every := 10 * time.Second
	for _, tt := range []struct {
		name  string
		phase time.Duration
		now   time.Time
		want  time.Time
	}{
		{"later this interval", 3 * time.Second, time.Unix(100, 0), time.Unix(103, 0)},
		{"next interval", 3 * time.Second, time.Unix(105, 0), time.Unix(113, 0)},
		{"on the slot: the next", 3 * time.Second, time.Unix(103, 0), time.Unix(113, 0)},
		{"phase 0", 0, time.Unix(100, 1), time.Unix(110, 0)},
		{"before 1970", 3 * time.Second, time.Unix(-5, 0), time.Unix(3, 0)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextSlot(tt.phase, every, tt.now); !got.Equal(tt.want) {
				t.Errorf("nextSlot = %v, want %v", got.Unix(), tt.want.Unix())
			}
		})
	}
}

// TestWatchFreshness: the first ask waits for the first probe; asks within
// every + deadline are answered from memory; a stale verdict makes the ask
// probe; the schedule probes at the target's slot.
func TestWatchFreshness(t *testing.T) {
	b := newBackend()
	clock := newClock()
	d := watchDaemon(t, b.registry(), watchConfig, clock)
	res, err := ask(t, d, "w", "192.0.2.5:1")
	if err != nil || res.State != exitcode.OK || !res.Watched || b.calls.Load() != 1 {
		t.Fatalf("first ask: %v %v watched=%v, %d probes", res.State, err, res.Watched, b.calls.Load())
	}
	settle(t, d)
	clock.add(5 * time.Second)
	res, err = ask(t, d, "w", "192.0.2.5:1")
	if err != nil || b.calls.Load() != 1 || res.Age != 5*time.Second {
		t.Fatalf("ask from memory: %v, %d probes, age %v", err, b.calls.Load(), res.Age)
	}
	// A module without every probes per ask, as before.
	ask(t, d, "once", "192.0.2.5:1")
	ask(t, d, "once", "192.0.2.5:1")
	if b.calls.Load() != 3 {
		t.Fatalf("module without every: %d probes, want 3", b.calls.Load())
	}
	// Stale: older than every (10 s) + deadline (1 s).
	b.set(1, exitcode.Critical)
	clock.add(6*time.Second + time.Millisecond)
	res, err = ask(t, d, "w", "192.0.2.5:1")
	if err != nil || res.State != exitcode.Critical || b.calls.Load() != 4 || res.Age != 0 {
		t.Fatalf("stale: %v %v, %d probes, age %v", res.State, err, b.calls.Load(), res.Age)
	}
	settle(t, d)
	// The scheduler catches up with the slots it missed (the test drives
	// it), without probing: the verdict is new. Then it probes at the
	// slot, not before.
	d.watches.due(clock.now())
	settle(t, d)
	if b.calls.Load() != 4 {
		t.Fatalf("probed a missed slot: %d probes", b.calls.Load())
	}
	w := d.watches.lookup(watchKey{"w", "192.0.2.5", 1})
	d.watches.mu.Lock()
	slot := w.slot
	d.watches.mu.Unlock()
	b.set(1, exitcode.OK)
	clock.add(slot.Sub(clock.now()) - time.Millisecond)
	d.watches.due(clock.now())
	settle(t, d)
	if b.calls.Load() != 4 {
		t.Fatalf("probed before the slot: %d probes", b.calls.Load())
	}
	// A slot within half an interval of the ask's probe is skipped.
	want := int32(5)
	if slot.Sub(w.snap.Load().at) < 5*time.Second {
		want = 4
	}
	clock.add(time.Millisecond)
	next := d.watches.due(clock.now())
	settle(t, d)
	if b.calls.Load() != want || !next.Equal(slot.Add(10*time.Second)) {
		t.Fatalf("at the slot: %d probes, want %d; next slot %v after, want 10s", b.calls.Load(), want, next.Sub(slot))
	}
	if want == 4 {
		clock.add(10 * time.Second)
		d.watches.due(clock.now())
		settle(t, d)
		if b.calls.Load() != 5 {
			t.Fatalf("at the next slot: %d probes, want 5 (slot %v, verdict at %v, now %v)", b.calls.Load(), slot, w.snap.Load().at, clock.now())
		}
	}
	if res, _ := ask(t, d, "w", "192.0.2.5:1"); res.State != exitcode.OK || b.calls.Load() != 5 {
		t.Errorf("after the slot's probe: %v, %d probes", res.State, b.calls.Load())
	}
}

// TestWatchOneProbeInFlight: asks and slots that come while a probe runs
// wait for it; none starts a second.
func TestWatchOneProbeInFlight(t *testing.T) {
	b := newBackend()
	b.hold = make(chan struct{})
	clock := newClock()
	d := watchDaemon(t, b.registry(), watchConfig, clock)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := ask(t, d, "w", "192.0.2.5:1"); err != nil || res.State != exitcode.OK {
				errs <- fmt.Errorf("%v %v", res.State, err)
			}
		}()
	}
	waitFor(t, "the first probe", func() bool { return b.calls.Load() == 1 })
	for range 3 {
		d.watches.due(clock.add(10 * time.Second))
	}
	time.Sleep(20 * time.Millisecond)
	close(b.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	settle(t, d)
	if n := b.calls.Load(); n != 1 {
		t.Errorf("%d probes in flight at once, want 1", n)
	}
}

// TestWatchIdle: a watch nobody asks about ends after idle; an asked one
// and a listed one do not.
func TestWatchIdle(t *testing.T) {
	b := newBackend()
	clock := newClock()
	d := watchDaemon(t, b.registry(), watchConfig+"  listed: {check: [check_fake, -t, \"1\"], every: 10s, idle: 10s, targets: [192.0.2.9:1]}\n", clock)
	ask(t, d, "w", "192.0.2.5:1")
	ask(t, d, "w", "192.0.2.6:1")
	for range 12 { // two minutes, idle is one
		d.watches.due(clock.add(10 * time.Second))
		settle(t, d)
		ask(t, d, "w", "192.0.2.6:1")
	}
	if d.watches.lookup(watchKey{"w", "192.0.2.5", 1}) != nil {
		t.Error("an idle watch still runs")
	}
	if d.watches.lookup(watchKey{"w", "192.0.2.6", 1}) == nil {
		t.Error("an asked watch ended")
	}
	if d.watches.lookup(watchKey{"listed", "192.0.2.9", 1}) == nil {
		t.Error("a listed watch ended")
	}
	if c := d.watches.counts(); c["w"] != 1 || c["listed"] != 1 || d.watches.count.Load() != 2 {
		t.Errorf("counts %v, total %d", c, d.watches.count.Load())
	}
}

// TestWatchCap: past max_watches a new watch is refused as overload; the
// watched ones are still answered.
func TestWatchCap(t *testing.T) {
	b := newBackend()
	d := watchDaemon(t, b.registry(), watchConfig, newClock())
	for i := range 4 {
		if _, err := ask(t, d, "w", fmt.Sprintf("192.0.2.%d:1", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := ask(t, d, "w", "192.0.2.99:1")
	var r *Refused
	if !errors.As(err, &r) || r.Reason != Overloaded || HTTPStatus(err, 504) != 429 {
		t.Fatalf("past max_watches: %v", err)
	}
	if _, err := ask(t, d, "w", "192.0.2.1:1"); err != nil {
		t.Errorf("a watched target past the cap: %v", err)
	}
	if d.watches.refused.Load() != 1 {
		t.Errorf("%d refusals counted", d.watches.refused.Load())
	}
}

// TestWatchReload: a reload keeps the watches of a module whose command
// line and every did not change, history and all, and ends the others.
func TestWatchReload(t *testing.T) {
	b := newBackend()
	clock := newClock()
	reg := b.registry()
	d := watchDaemon(t, reg, watchConfig, clock)
	ask(t, d, "w", "192.0.2.5:1")
	ask(t, d, "fr", "192.0.2.5:1")
	settle(t, d)
	kept := d.watches.lookup(watchKey{"w", "192.0.2.5", 1})
	snap := kept.snap.Load()
	d.Swap(mustConfig(t, reg, `allow: [192.0.2.0/24]
modules:
  w: {check: [check_fake, -t, "1"], every: 10s, idle: 5m, fall: 3}
  fr: {check: [check_fake, -t, "0.5"], every: 10s, fall: 2, rise: 3}
  new: {check: [check_fake, -t, "1"], every: 10s, targets: [192.0.2.7:1]}
`))
	if w := d.watches.lookup(watchKey{"w", "192.0.2.5", 1}); w != kept || w.snap.Load() != snap || w.mod.Load().Watch.Idle != 5*time.Minute {
		t.Error("the unchanged module's watch was not kept with its history and new keys")
	}
	if d.watches.lookup(watchKey{"fr", "192.0.2.5", 1}) != nil {
		t.Error("the watch of a module whose command line changed was kept")
	}
	if d.watches.lookup(watchKey{"new", "192.0.2.7", 1}) == nil {
		t.Error("a listed target is not watched")
	}
	calls := b.calls.Load()
	if _, err := ask(t, d, "w", "192.0.2.5:1"); err != nil || b.calls.Load() != calls {
		t.Errorf("the kept watch probed again: %v", err)
	}
	// A module removed, or allow narrowed: its watches end.
	d.Swap(mustConfig(t, reg, "allow: [192.0.2.6/31]\nmodules:\n  w: {check: [check_fake, -t, \"1\"], every: 10s}\n  new: {check: [check_fake, -t, \"1\"], every: 10s}\n"))
	if d.watches.lookup(watchKey{"w", "192.0.2.5", 1}) != nil || d.watches.count.Load() != 1 {
		t.Errorf("watches left: %d, want only new's 192.0.2.7 (unlisted, until idle)", d.watches.count.Load())
	}
	d.Swap(mustConfig(t, reg, "allow: [192.0.2.0/30]\nmodules:\n  w: {check: [check_fake, -t, \"1\"], every: 10s}\n"))
	if n := d.watches.count.Load(); n != 0 || len(d.watches.heap) != 0 {
		t.Errorf("%d watches (%d slots) left after their module went", n, len(d.watches.heap))
	}
}

func TestWeight(t *testing.T) {
	spec := &WatchSpec{AgentWeight: true, WeightFull: 0.2, WeightLow: 1}
	for _, tt := range []struct {
		ewma float64
		want int
	}{{0, 100}, {0.1, 100}, {0.2, 100}, {0.6, 55}, {0.9999, 10}, {1, 10}, {30, 10}, {0.2 + 0.8/9, 90}} {
		if got := weight(tt.ewma, spec); got != tt.want {
			t.Errorf("weight(%v) = %d%%, want %d%%", tt.ewma, got, tt.want)
		}
	}
}

// TestFallRise: the answer turns down after fall failing verdicts in a row
// and up after rise passing ones; UNKNOWN counts for neither.
func TestFallRise(t *testing.T) {
	spec := &WatchSpec{Fall: 2, Rise: 3}
	ok := Result{State: exitcode.OK}
	bad := Result{State: exitcode.Critical}
	unk := Result{State: exitcode.Unknown}
	withErr := func(s exitcode.State, err error) Result {
		r := Result{State: s}
		r.Err = err
		return r
	}
	srvfail := withErr(exitcode.Critical, fmt.Errorf("%w: SERVFAIL", errResolverFailed))
	slow := withErr(exitcode.Critical, fmt.Errorf("%w: timeout", errResolverTimeout))
	out := withErr(exitcode.Unknown, errNotAllowed)
	for _, tt := range []struct {
		name    string
		verdict []Result
		answers string
	}{
		{"first verdict stands", []Result{bad, ok, ok, ok}, "CCCO"},
		{"fall 2", []Result{ok, bad, ok, bad, bad, ok}, "OOOOCC"},
		{"rise 3", []Result{ok, bad, bad, ok, ok, bad, ok, ok, ok}, "OOCCCCCCO"},
		{"unknown counts for neither", []Result{ok, bad, unk, bad}, "OOUC"},
		// The first verdict that counts decides, not the first verdict:
		// after a first UNKNOWN there was once no answer at all (nil).
		{"unknown first, then ok", []Result{unk, ok, bad, ok}, "UOOO"},
		{"unknown first, then critical", []Result{unk, bad, ok, ok}, "UCCC"},
		{"unknowns first", []Result{unk, unk, ok}, "UUO"},
		// The daemon's resolver failing says nothing of the backend: it
		// is answered as could-not-check and counts for neither side.
		{"resolver failure counts for neither", []Result{ok, srvfail, bad, srvfail, bad}, "OUOUC"},
		{"resolver timeout counts for neither", []Result{bad, bad, ok, slow, ok, slow, ok}, "CCCUCUO"},
		{"outside allow counts for neither", []Result{ok, out, bad, bad}, "OUOC"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s *snapshot
			got := ""
			for i, v := range tt.verdict {
				s = s.next(v, time.Time{}, spec)
				if s.answer == nil {
					t.Fatalf("after verdict %d (%s): no answer", i, v.State)
				}
				got += s.answer.State.String()[:1]
			}
			if got != tt.answers {
				t.Errorf("answers %s, want %s", got, tt.answers)
			}
		})
	}
}

// TestFallRiseFronts: a daemon's answers follow fall and rise.
func TestFallRiseFronts(t *testing.T) {
	b := newBackend()
	clock := newClock()
	d := watchDaemon(t, b.registry(), watchConfig, clock)
	probeAndAsk := func() exitcode.State {
		clock.add(12 * time.Second) // stale: the ask probes
		res, err := ask(t, d, "fr", "192.0.2.5:1")
		if err != nil {
			t.Fatal(err)
		}
		settle(t, d)
		return res.State
	}
	got := ""
	for _, s := range []exitcode.State{exitcode.OK, exitcode.Critical, exitcode.Critical, exitcode.OK, exitcode.OK, exitcode.OK} {
		b.set(1, s)
		got += probeAndAsk().String()[:1]
	}
	if got != "OOCCCO" {
		t.Errorf("answers %s, want OOCCCO (fall 2, rise 3)", got)
	}
	ws := d.Watches()
	if len(ws) != 1 || ws[0].Target != "192.0.2.5:1" || len(ws[0].History) != 6 || ws[0].History[0] != exitcode.OK {
		t.Errorf("Watches: %+v", ws)
	}
}

// TestWatchClose: SIGTERM's Close ends the watches at once: the probe in
// flight is cancelled and its asker gets no verdict.
func TestWatchClose(t *testing.T) {
	b := newBackend()
	b.hold = make(chan struct{})
	d := watchDaemon(t, b.registry(), watchConfig, newClock())
	d.watches.start()
	errc := make(chan error, 1)
	go func() { _, err := ask(t, d, "w", "192.0.2.5:1"); errc <- err }()
	waitFor(t, "the first probe", func() bool { return b.calls.Load() == 1 })
	start := time.Now()
	d.Close()
	select {
	case err := <-errc:
		var r *Refused
		if !errors.As(err, &r) || r.Reason != NoVerdict {
			t.Errorf("ask during Close: %v, want no verdict", err)
		}
	case <-time.After(500 * time.Millisecond):
		t.Fatal("the ask still waits after Close")
	}
	if time.Since(start) > 200*time.Millisecond {
		t.Errorf("Close took %v", time.Since(start))
	}
}

// TestWatchNameLeavesAllow: a name is resolved at every probe and checked
// against allow each time.
func TestWatchNameLeavesAllow(t *testing.T) {
	r := fakeResolver{"svc.example": {netip.MustParseAddr("192.0.2.7")}}
	useResolver(t, r)
	b := newBackend()
	clock := newClock()
	d := watchDaemon(t, b.registry(), watchConfig, clock)
	if _, err := ask(t, d, "w", "svc.example:1"); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	r["svc.example"] = []netip.Addr{netip.MustParseAddr("198.51.100.1")}
	clock.add(12 * time.Second)
	_, err := ask(t, d, "w", "svc.example:1")
	var ref *Refused
	if !errors.As(err, &ref) || ref.Reason != NotAllowed {
		t.Errorf("a name moved outside allow: %v, want refused", err)
	}
	if b.calls.Load() != 1 {
		t.Errorf("probed outside allow: %d probes", b.calls.Load())
	}
}

// BenchmarkAskFromMemory is an ask about a watched target with a fresh
// verdict: what every front pays on top of its own protocol.
func BenchmarkAskFromMemory(b *testing.B) {
	be := newBackend()
	c, err := Parse([]byte(watchConfig), be.registry())
	if err != nil {
		b.Fatal(err)
	}
	d := New(context.Background(), c, NewMetrics(func() float64 { return 0 }))
	defer d.Close()
	req := Request{Module: "w", Target: "192.0.2.5:1", Front: "check"}
	if _, err := d.Check(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := d.Check(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWatchMemory reports the heap a watch holds once probed (the
// issue's bound: 100k watches well under 256 MiB).
func BenchmarkWatchMemory(b *testing.B) {
	be := newBackend()
	clock := newClock()
	c, err := Parse([]byte("allow: [10.0.0.0/8]\nmax_watches: 1000000\nmodules:\n  w: {check: [check_fake, -t, \"1\"], every: 10s}\n"), be.registry())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 100_000
	for range b.N {
		d := &Daemon{base: ctx, flights: map[flightKey]*flight{}}
		d.watches = newWatches(d, ctx, clock.now, []byte("bench"))
		d.Swap(c)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			tg := fmt.Sprintf("10.%d.%d.%d:80", i>>16, (i>>8)&255, i&255)
			if _, err := d.Check(context.Background(), Request{Module: "w", Target: tg}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heap-bytes/watch")
		runtime.KeepAlive(d)
	}
}

// TestWatchMaxInFlight: the probes first asks start take a slot of
// max_in_flight (refused as overloaded past it), and the scheduled
// probes of the pool count in the same counter.
func TestWatchMaxInFlight(t *testing.T) {
	b := newBackend()
	b.hold = make(chan struct{})
	clock := newClock()
	d := watchDaemon(t, b.registry(), `allow: [192.0.2.0/24]
max_in_flight: 1
modules:
  w: {check: [check_fake, -t, "1"], every: 10s}
`, clock)
	const asks = 5
	errs := make(chan error, asks)
	for i := range asks {
		go func() {
			_, err := ask(t, d, "w", fmt.Sprintf("192.0.2.5:%d", i+1))
			errs <- err
		}()
	}
	overloaded := 0
	for range asks - 1 { // all but the one whose probe is held
		var r *Refused
		if err := <-errs; errors.As(err, &r) && r.Reason == Overloaded {
			overloaded++
		}
	}
	waitFor(t, "the first probe", func() bool { return b.calls.Load() >= 1 })
	if overloaded != asks-1 || b.calls.Load() != 1 || d.InFlight() != 1 {
		t.Errorf("max_in_flight 1, %d first asks: %d overloaded, %d probes run, %d in flight; want %d, 1, 1",
			asks, overloaded, b.calls.Load(), d.InFlight(), asks-1)
	}
	close(b.hold)
	<-errs
	settle(t, d)
	if d.InFlight() != 0 {
		t.Errorf("%d in flight after the probes ended", d.InFlight())
	}

	// The scheduler's probes: counted while they run.
	b.mu.Lock()
	b.hold = make(chan struct{})
	b.mu.Unlock()
	// One worker (max_in_flight 1): due waits to hand it the next job.
	go d.watches.due(clock.add(10 * time.Second))
	waitFor(t, "the scheduled probes", func() bool { return b.calls.Load() > 1 })
	if n := d.InFlight(); n < 1 {
		t.Errorf("scheduled probes running, %d in flight counted", n)
	}
	close(b.hold)
	settle(t, d)
}

// TestWatchFirstAskTimesOut: the first ask about a silent target gets the
// probe's timeout verdict (CRITICAL), as a per-ask probe does, not "no
// verdict": its wait must not end just before the probe's deadline.
func TestWatchFirstAskTimesOut(t *testing.T) {
	b := newBackend()
	b.hold = make(chan struct{}) // silent: each probe ends by its deadline
	t.Cleanup(func() { close(b.hold) })
	d := watchDaemon(t, b.registry(), `allow: [192.0.2.0/24]
modules:
  w: {check: [check_fake, -t, "0.2"], every: 10s}
`, newClock())
	for port := 1; port <= 5; port++ {
		res, err := ask(t, d, "w", fmt.Sprintf("192.0.2.5:%d", port))
		if err != nil || res.State != exitcode.Critical {
			t.Errorf("first ask, port %d: %v %v; want the probe's CRITICAL", port, res.State, err)
		}
	}
}

// TestWatchResolverFailure: on a daemon, a resolver's failure is refused
// on every front, takes the backend no step toward down (fall 2), and
// /watches' state says why there is no verdict.
func TestWatchResolverFailure(t *testing.T) {
	r := fakeResolver{"svc.example": {netip.MustParseAddr("192.0.2.7")}}
	useResolver(t, r)
	b := newBackend()
	clock := newClock()
	d := watchDaemon(t, b.registry(), watchConfig, clock)
	probeAndAsk := func() (Result, error) {
		clock.add(12 * time.Second) // stale: the ask probes
		res, err := ask(t, d, "fr", "svc.example:1")
		settle(t, d)
		return res, err
	}
	b.set(1, exitcode.OK)
	if res, err := probeAndAsk(); err != nil || res.State != exitcode.OK {
		t.Fatalf("first ask: %v %v", res.State, err)
	}
	delete(r, "svc.example") // the fake resolver fails for names it lacks
	_, err := probeAndAsk()
	var ref *Refused
	if !errors.As(err, &ref) || ref.Reason != ResolverFailed {
		t.Errorf("resolver failing: %v, want refused as resolver_failed", err)
	}
	if ws := d.Watches(); len(ws) != 1 || ws[0].Refused != string(ResolverFailed) || ws[0].Last.State != exitcode.Unknown {
		t.Errorf("Watches after a resolver failure: %+v", ws)
	}
	r["svc.example"] = []netip.Addr{netip.MustParseAddr("192.0.2.7")}
	b.set(1, exitcode.Critical)
	if res, err := probeAndAsk(); err != nil || res.State != exitcode.OK {
		t.Errorf("one CRITICAL after a resolver failure, fall 2: %v %v; want still OK", res.State, err)
	}
	if ws := d.Watches(); len(ws) != 1 || ws[0].Refused != "" {
		t.Errorf("Watches after a verdict: %+v", ws)
	}
}

// TestWatchSlowProbeEverySlot: a probe that takes longer than half the
// interval (6 s of 10 s) still runs at every slot: the "no second probe
// within every/2" rule counts from the last probe's start, not its end.
func TestWatchSlowProbeEverySlot(t *testing.T) {
	b := newBackend()
	clock := newClock()
	b.during = func() { clock.add(6 * time.Second) }
	d := watchDaemon(t, b.registry(), watchConfig, clock)
	if _, err := ask(t, d, "w", "192.0.2.5:1"); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	w := d.watches.lookup(watchKey{"w", "192.0.2.5", 1})
	slot := func() time.Time {
		d.watches.mu.Lock()
		defer d.watches.mu.Unlock()
		return w.slot
	}
	run := func() {
		s := slot()
		if now := clock.now(); s.After(now) {
			clock.add(s.Sub(now))
		}
		d.watches.due(clock.now())
		settle(t, d)
	}
	run() // this slot may come within every/2 of the ask's probe
	before := b.calls.Load()
	const slots = 4
	for range slots {
		run()
	}
	if got := b.calls.Load() - before; got != slots {
		t.Errorf("%d slots of a 6 s probe every 10 s: %d probes, want %d", slots, got, slots)
	}
}

// TestWatchAddDuringReload: an ask that read its module before a reload
// and inserts its watch after reconfigure's scan gets the module in force,
// or no watch when the reload changed the command line or allow.
func TestWatchAddDuringReload(t *testing.T) {
	const before = `allow: [192.0.2.0/24]
modules:
  w: {check: [check_fake, -t, "1"], every: 10s}
`
	for _, tt := range []struct {
		name, after string
		kept        bool
	}{
		{"argv changed", "allow: [192.0.2.0/24]\nmodules:\n  w: {check: [check_fake, -t, \"2\"], every: 10s}\n", false},
		{"every changed", "allow: [192.0.2.0/24]\nmodules:\n  w: {check: [check_fake, -t, \"1\"], every: 20s}\n", false},
		{"module gone", "allow: [192.0.2.0/24]\nmodules:\n  x: {check: [check_fake, -t, \"1\"], every: 10s}\n", false},
		{"outside allow now", "allow: [198.51.100.0/24]\nmodules:\n  w: {check: [check_fake, -t, \"1\"], every: 10s}\n", false},
		{"fall changed", "allow: [192.0.2.0/24]\nmodules:\n  w: {check: [check_fake, -t, \"1\"], every: 10s, fall: 3}\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend()
			clock := newClock()
			d := watchDaemon(t, b.registry(), before, clock)
			old := d.Config().Modules["w"]
			d.Swap(mustConfig(t, b.registry(), tt.after))
			k := watchKey{"w", "192.0.2.5", 1}
			tg := target.Spec{Host: "192.0.2.5", IP: netip.MustParseAddr("192.0.2.5"), Port: 1}
			d.watches.add(k, old, tg, false, clock.now(), 100) // the ask's insert, late
			w := d.watches.lookup(k)
			switch {
			case tt.kept && (w == nil || w.mod.Load() != d.Config().Modules["w"]):
				t.Errorf("watch %v: want it on the module in force", w)
			case !tt.kept && w != nil:
				t.Errorf("watch kept on the old module (argv %q)", w.mod.Load().Argv)
			case !tt.kept && d.watches.counts()["w"] != 0:
				t.Errorf("watch ended but scheduled: %v", d.watches.counts())
			}
		})
	}
}

// TestWatchCloseStale: an ask waiting on the probe of a stale watch gets
// no verdict when Close cancels that probe, not the stale verdict.
func TestWatchCloseStale(t *testing.T) {
	b := newBackend()
	b.set(1, exitcode.OK)
	clock := newClock()
	d := watchDaemon(t, b.registry(), watchConfig, clock)
	if _, err := ask(t, d, "w", "192.0.2.5:1"); err != nil {
		t.Fatal(err)
	}
	settle(t, d)
	b.mu.Lock()
	b.hold = make(chan struct{})
	b.mu.Unlock()
	clock.add(12 * time.Second) // stale
	errc := make(chan error, 1)
	go func() { _, err := ask(t, d, "w", "192.0.2.5:1"); errc <- err }()
	waitFor(t, "the stale ask's probe", func() bool { return b.calls.Load() == 2 })
	d.Close()
	var r *Refused
	if err := <-errc; !errors.As(err, &r) || r.Reason != NoVerdict {
		t.Errorf("ask whose probe Close cancelled: %v, want no verdict (not the stale one)", err)
	}
}

// TestWatchUnknownFirstFronts: the reviewer's case on a daemon: rise 3,
// the first verdict UNKNOWN, the next OK. The ask once read a nil answer
// (a panic in every front); now the OK decides at once.
func TestWatchUnknownFirstFronts(t *testing.T) {
	b := newBackend()
	clock := newClock()
	d := watchDaemon(t, b.registry(), watchConfig, clock)
	b.set(1, exitcode.Unknown)
	if res, err := ask(t, d, "fr", "192.0.2.5:1"); err != nil || res.State != exitcode.Unknown {
		t.Fatalf("first ask: %v %v, want UNKNOWN", res.State, err)
	}
	settle(t, d)
	b.set(1, exitcode.OK)
	for range 2 {
		clock.add(12 * time.Second) // stale: the ask probes
		if res, err := ask(t, d, "fr", "192.0.2.5:1"); err != nil || res.State != exitcode.OK {
			t.Errorf("after the UNKNOWN, OK: %v %v, want OK", res.State, err)
		}
		settle(t, d)
	}
}
