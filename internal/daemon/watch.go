package daemon

// The watch: modules with every are probed on the daemon's own schedule,
// each (module, target) at a phase of its own, and the fronts read the
// latest verdict from memory.
//
// One scheduler goroutine keeps a heap of the watches' next slots and
// sleeps until the earliest, rounded up to the next tick (no ticker: an
// idle daemon does not wake); due probes go to a bounded pool of workers,
// or, for half-open watches of a literal address, to the sweeper in one
// batch a tick (no goroutine per probe). A watch's state is an immutable
// snapshot behind an atomic pointer, so an ask reads it without a lock and
// without allocating; the lookup is a sharded map under read locks.

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/polltimer"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
	"github.com/lbcheck/lbcheck/internal/target"
)

const (
	watchShards = 64
	// historyLen is how many recent verdicts a watch keeps.
	historyLen = 8
	// ewmaWeight is the newest response time's share of the EWMA.
	ewmaWeight = 0.3
	// lateAfter is how far past its slot a probe may start before it
	// counts as late.
	lateAfter = time.Second
	// askMargin is how much longer than the deadline an ask waits for a
	// probe it started with that deadline: for the probe to grade its
	// timeout. The caller's own context still ends the wait.
	askMargin = 250 * time.Millisecond
	// workerIdle ends a pool worker that had nothing to do for this long.
	workerIdle = 30 * time.Second
	// tick is how often at most the scheduler wakes: it sleeps until the
	// next slot rounded up to a multiple of tick and takes every probe due
	// by then, so no probe starts later than its slot + tick. Sleeping to
	// each slot instead woke it 6,554 times a second for 65,536 targets
	// every 10 s; a tick of 100 ms batches them 655 at a time (sendmmsg
	// batches for half-open sweeps) and wakes it 10 times a second at
	// most, while a health check's verdict is no worse for 100 ms (the
	// shortest every is 100 ms). Each wake-up costs the sweep its fixed
	// share (the scheduler's, the sender's, the reader's, and the
	// threads' switches): at 1,000 watched half-open targets a second,
	// 10 ms made 0.091 ms of CPU a probe and 50 ms 0.056 ms (the sweep
	// bench); after the readers moved to the poller, 50 ms 0.029 ms and
	// 100 ms 0.022-0.023 ms (200 ms 0.020-0.024: not worth the latency).
	tick = 100 * time.Millisecond
	// sweepLost is how long past its deadline a sweep probe may go without
	// its Done before the watch stops waiting for it (the sweeper owes one
	// Done per probe by its deadline: this only keeps a lost one from
	// stopping the watch for good).
	sweepLost = time.Second
)

// sweeper is what sends the watch's half-open probes in batches: the
// shared half-open Mux, or a test's fake.
type sweeper interface {
	Register(*halfopen.SweepTarget) error
	Unregister(*halfopen.SweepTarget)
	Sweep([]*halfopen.SweepTarget)
}

type watchKey struct {
	module string
	host   string
	port   uint16
}

// watch is one (module, target) kept under watch.
type watch struct {
	key     watchKey
	name    string // HOST:PORT, as /watches labels it
	tg      target.Spec
	mod     atomic.Pointer[Module]
	phase   time.Duration // the slot's offset within every
	lastAsk atomic.Int64  // unix nanoseconds
	snap    atomic.Pointer[snapshot]

	// Under watches.mu: the scheduler's.
	slot   time.Time
	index  int // in the heap; -1 when out of it
	static bool

	// sweep is set when the watch's probes are swept (before the watch
	// is published, never changed); nil for the ordinary path.
	sweep *swept

	mu   sync.Mutex
	busy bool // a probe is in flight
	// running is made by the first asker that waits on the probe in
	// flight and closed when it ends: a scheduled probe nobody waits on
	// costs no channel.
	running chan struct{}
	ended   bool
}

// swept is a swept watch's part: apart, so that the watches on the
// ordinary path do not carry it.
type swept struct {
	target halfopen.SweepTarget
	one    [1]*halfopen.SweepTarget // {&target}: an ask's one-target Sweep
	probed probe.Target             // what the verdicts name as the probe's target
	// Under the watch's mu: when the probe in flight was handed over, by
	// the watch's clock (its snapshot's start) and by the real one (its
	// duration).
	at, real time.Time
}

// snapshot is a watch's state after a probe, never changed once stored.
// Its Results are separate objects (never pointers into an older
// snapshot), so a watch keeps at most one snapshot and three verdicts
// alive.
type snapshot struct {
	last    *Result          // the latest verdict
	answer  *Result          // what the fronts answer, after fall and rise
	weight  int              // the agent's weight, percent; 0 for none
	at      time.Time        // when the latest verdict came
	started time.Time        // when its probe started
	changed time.Time        // when the verdict's state last changed
	ewma    float64          // response time, seconds; 0 before one was measured
	history [historyLen]int8 // exitcode.States: a byte each, not 8
	n       int              // verdicts so far
	counted int              // verdicts that counted toward fall or rise (see counts)
	up      bool
	fails   int // failing verdicts in a row
	passes  int
	lastOK  *Result // the latest passing verdict, answered while up
	lastBad *Result // the latest failing one, answered while down
}

// watches is the room of the daemon that keeps watch.
type watches struct {
	d     *Daemon
	now   func() time.Time
	key   []byte // keys the phase hash: stable across restarts
	ctx   context.Context
	stop  context.CancelFunc
	wake  chan struct{}
	count atomic.Int64

	shards [watchShards]struct {
		sync.RWMutex
		m map[watchKey]*watch
	}

	mu       sync.Mutex
	heap     watchHeap
	perMod   map[string]int
	maxWork  int
	workers  int
	jobs     chan job
	late     atomic.Int64
	refused  atomic.Int64
	loopDone chan struct{}

	// sw sweeps the half-open watches of literal targets; nil: every
	// probe runs on its own.
	sw  sweeper
	log *slog.Logger

	// due's slices, reused from tick to tick: collecting a tick's probes
	// allocates nothing once they have grown.
	dueMu sync.Mutex
	todo  []job
	batch []*halfopen.SweepTarget
	wakes atomic.Int64 // times the scheduler woke, for tests
}

type job struct {
	w    *watch
	slot time.Time
}

// phaseKey is what the phases are keyed with: the host's name, so that a
// restart keeps every target's phase and two daemons on two load
// balancers asking the same backends are not aligned.
func phaseKey() []byte {
	h, err := os.Hostname()
	if err != nil {
		h = "lbcheckd"
	}
	return []byte(h)
}

func newWatches(d *Daemon, base context.Context, now func() time.Time, key []byte) *watches {
	ctx, stop := context.WithCancel(base)
	s := &watches{d: d, now: now, key: key, ctx: ctx, stop: stop, wake: make(chan struct{}, 1),
		perMod: map[string]int{}, jobs: make(chan job), maxWork: DefaultMaxInFlight, log: discardLog}
	for i := range s.shards {
		s.shards[i].m = map[watchKey]*watch{}
	}
	return s
}

// phase is the target's slot within every: a keyed FNV-1a hash of module
// and target, mixed (splitmix64's finaliser) so that neighbouring addresses
// land far apart.
func (s *watches) phase(k watchKey, every time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write(s.key)
	h.Write([]byte{0})
	h.Write([]byte(k.module))
	h.Write([]byte{0})
	h.Write([]byte(k.host))
	var p [2]byte
	binary.BigEndian.PutUint16(p[:], k.port)
	h.Write(p[:])
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return time.Duration(x % uint64(every))
}

// nextSlot is the first time after now at phase within every, counted
// from the Unix epoch: the same on every restart.
func nextSlot(phase, every time.Duration, now time.Time) time.Time {
	t := now.UnixNano()
	e := int64(every)
	base := t - int64(phase)
	k := base / e
	if base < 0 && base%e != 0 {
		k--
	}
	return time.Unix(0, (k+1)*e+int64(phase))
}

func (s *watches) shard(k watchKey) *struct {
	sync.RWMutex
	m map[watchKey]*watch
} {
	// A cheap mix of what differs between targets: the host's bytes and
	// the port.
	h := uint32(k.port)
	for i := 0; i < len(k.host); i++ {
		h = h*31 + uint32(k.host[i])
	}
	return &s.shards[h%watchShards]
}

func (s *watches) lookup(k watchKey) *watch {
	sh := s.shard(k)
	sh.RLock()
	w := sh.m[k]
	sh.RUnlock()
	return w
}

// add starts watching k, or finds its watch; ok is false past max_watches.
func (s *watches) add(k watchKey, mod *Module, tg target.Spec, static bool, now time.Time, max int) (w *watch, ok bool) {
	sh := s.shard(k)
	if w := s.lookup(k); w != nil {
		return w, true
	}
	if !static && s.count.Load() >= int64(max) {
		return nil, false
	}
	w = &watch{key: k, name: net.JoinHostPort(k.host, strconv.Itoa(int(k.port))), tg: tg, phase: s.phase(k, mod.Watch.Every), index: -1, static: static}
	w.mod.Store(mod)
	w.lastAsk.Store(now.UnixNano())
	// Registered before it is published: its probes never change path.
	s.register(w, mod)
	sh.Lock()
	if other := sh.m[k]; other != nil || (!static && s.count.Load() >= int64(max)) {
		// Another ask added it (or the last room) meanwhile.
		sh.Unlock()
		if w.sweep != nil {
			s.sw.Unregister(&w.sweep.target)
		}
		return other, other != nil
	}
	sh.m[k] = w
	s.count.Add(1)
	sh.Unlock()

	s.mu.Lock()
	// A reload may have come since the asker read its module: if
	// reconfigure's scan ran before the insert above landed, it did not
	// see this watch, so check it against the configuration in force here
	// (under s.mu, after the insert: whichever comes second sees the
	// other). Else the watch would keep the old argv and allow.
	if s.d != nil {
		cfg := s.d.cfg.Load()
		if cur := cfg.Modules[k.module]; !sameWatch(mod, cur) || (tg.IP.IsValid() && !cfg.Allowed(tg.IP)) {
			s.endLocked(w)
		} else {
			w.mod.Store(cur)
			mod = cur
		}
	}
	// A reload may have ended it in between: then it is not scheduled.
	w.mu.Lock()
	ended := w.ended
	w.mu.Unlock()
	if !ended {
		w.slot = nextSlot(w.phase, mod.Watch.Every, now)
		heap.Push(&s.heap, heapEntry{at: w.slot.UnixNano(), w: w})
		s.perMod[k.module]++
	}
	first := w.index == 0
	s.mu.Unlock()
	if first {
		s.kick()
	}
	return w, true
}

// end stops a watch: out of the map and the heap; a probe in flight ends
// by its deadline and is no longer scheduled. Call with s.mu held.
func (s *watches) endLocked(w *watch) {
	sh := s.shard(w.key)
	sh.Lock()
	if sh.m[w.key] == w {
		delete(sh.m, w.key)
		s.count.Add(-1)
	}
	sh.Unlock()
	if w.index >= 0 { // scheduled, and counted per module
		heap.Remove(&s.heap, w.index)
		if s.perMod[w.key.module]--; s.perMod[w.key.module] <= 0 {
			delete(s.perMod, w.key.module)
		}
	}
	w.mu.Lock()
	was := w.ended
	w.ended = true
	w.mu.Unlock()
	if !was && w.sweep != nil {
		// A probe in flight still gets its Done, by its deadline.
		s.sw.Unregister(&w.sweep.target)
	}
}

// notSwept says why the half-open watch of tg by mod is not swept, ""
// when it is: it needs one attempt (the sweeper retransmits within the
// deadline, but makes no attempts), and a literal address of the family
// -4/-6 allow (else the ordinary path's UNKNOWN says why). A name is
// resolved at each probe, which the ordinary path does.
func notSwept(mod *Module, tg target.Spec) string {
	c, ip := mod.Cmd, tg.IP
	switch {
	case c.Attempts != 1:
		return "--attempts " + strconv.Itoa(c.Attempts) + ": sweeps make one attempt"
	case !ip.IsValid():
		return "a name: resolved at each probe"
	case (c.Family == target.IPv4 && !ip.Is4()) || (c.Family == target.IPv6 && !ip.Is6()):
		return "not an " + c.Family.String() + " address"
	}
	return ""
}

// register gives a new watch its target at the sweeper, if it may be
// swept; if the sweeper refuses it (a family without a socket, a mark not
// prepared), its probes take the ordinary path, whose verdict says why.
func (s *watches) register(w *watch, mod *Module) {
	if s.sw == nil || mod.Cmd.Spec.Command != halfopen.Spec.Command {
		return
	}
	if why := notSwept(mod, w.tg); why != "" {
		s.log.Debug("half-open watch probes on its own, not in sweeps", "module", mod.Name, "target", w.name, "why", why)
		return
	}
	addr := netip.AddrPortFrom(w.tg.IP, w.tg.Port)
	sw := &swept{target: halfopen.SweepTarget{Addr: addr, Socket: mod.Cmd.Socket, Timeout: mod.Cmd.Deadline, Done: s.sweepDone, Owner: w},
		probed: probe.Target{Host: w.tg.Host, Addr: addr, Socket: mod.Cmd.Socket}}
	sw.one[0] = &sw.target
	if err := s.sw.Register(&sw.target); err != nil {
		s.log.Debug("half-open watch probes on its own, not in sweeps", "module", mod.Name, "target", w.name, "why", oneLine(err.Error()))
		return
	}
	w.sweep = sw
}

func (s *watches) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// begin marks a probe in flight, unless one is already (never two for a
// target) or the watch ended. A sweep probe is handed over at now (the
// watch's clock) and real.
func (s *watches) begin(w *watch, now, real time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy && w.sweep != nil && now.Sub(w.sweep.at) > w.sweep.target.Timeout+sweepLost {
		s.log.Warn("a half-open sweep probe never ended: probing again", "module", w.key.module, "target", w.name)
		w.endFlightLocked()
	}
	if w.busy || w.ended {
		return false
	}
	w.busy = true
	if w.sweep != nil {
		w.sweep.at, w.sweep.real = now, real
	}
	return true
}

// closedChan is what a waiter gets when the probe it would wait on has
// already ended.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// waiter is a channel closed when the probe in flight ends; ok is false
// when none is and none will be (the watch ended).
func (w *watch) waiter() (done chan struct{}, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.busy:
		if w.running == nil {
			w.running = make(chan struct{})
		}
		return w.running, true
	case w.ended:
		return nil, false
	}
	return closedChan, true
}

// endFlightLocked ends the flight: its waiters wake. Call with w.mu held.
func (w *watch) endFlightLocked() {
	if w.running != nil {
		close(w.running)
	}
	w.running, w.busy = nil, false
}

// due starts the probes whose slot has come, ends idle watches, and says
// when the next slot is (zero when there is none). The tick's sweep
// probes go to the sweeper in one Sweep, before the others are handed to
// the pool (which may wait for a worker).
func (s *watches) due(now time.Time) time.Time {
	s.dueMu.Lock()
	defer s.dueMu.Unlock()
	todo := s.todo[:0]
	s.mu.Lock()
	for len(s.heap) > 0 && !s.heap[0].w.slot.After(now) {
		w := s.heap[0].w
		mod := w.mod.Load()
		if !w.static && now.Sub(time.Unix(0, w.lastAsk.Load())) > mod.Watch.Idle {
			s.endLocked(w)
			continue
		}
		slot := w.slot
		w.slot = nextSlot(w.phase, mod.Watch.Every, now)
		s.heap[0].at = w.slot.UnixNano()
		heap.Fix(&s.heap, 0)
		// An ask's probe (the first, or a stale one's) may have just run:
		// no second probe within half an interval of its start. (Of its
		// start, not its end: a probe longer than every/2 would otherwise
		// skip every other slot, and a timing-out target be seen down
		// at twice every.)
		if snap := w.snap.Load(); snap != nil && slot.Sub(snap.started) < mod.Watch.Every/2 {
			continue
		}
		todo = append(todo, job{w, slot})
	}
	var next time.Time
	if len(s.heap) > 0 {
		next = s.heap[0].w.slot
	}
	s.mu.Unlock()
	batch := s.batch[:0]
	var real time.Time
	for _, j := range todo {
		if j.w.sweep == nil {
			continue
		}
		if real.IsZero() {
			real = time.Now()
		}
		if s.begin(j.w, now, real) {
			if now.Sub(j.slot) > lateAfter {
				s.late.Add(1)
			}
			batch = append(batch, &j.w.sweep.target)
		}
	}
	if len(batch) > 0 {
		s.sw.Sweep(batch)
	}
	for _, j := range todo {
		if j.w.sweep == nil && s.begin(j.w, now, time.Time{}) {
			s.dispatch(j)
		}
	}
	// Kept for the next tick, without the watches: an ended one must not
	// stay reachable from here.
	clear(todo)
	clear(batch)
	s.todo, s.batch = todo[:0], batch[:0]
	return next
}

// dispatch hands a probe to an idle worker, starts one if fewer than
// maxWork run, or waits for one (the probe is then late, and counted).
func (s *watches) dispatch(j job) {
	select {
	case s.jobs <- j:
		return
	default:
	}
	s.mu.Lock()
	if s.workers < s.maxWork {
		s.workers++
		s.mu.Unlock()
		go s.worker(j)
		return
	}
	s.mu.Unlock()
	select {
	case s.jobs <- j:
	case <-s.ctx.Done():
		s.finish(j.w, nil, time.Time{})
	}
}

func (s *watches) worker(j job) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		// The pool's probes count in max_in_flight's counter (and in
		// lbcheckd_probes_in_flight); the pool itself is bounded by
		// max_in_flight workers, so a scheduled probe is never refused.
		s.d.inFlight.Add(1)
		s.probe(j.w, j.slot)
		t.Reset(workerIdle)
		select {
		case j = <-s.jobs:
		case <-t.C:
			s.mu.Lock()
			s.workers--
			s.mu.Unlock()
			return
		case <-s.ctx.Done():
			s.mu.Lock()
			s.workers--
			s.mu.Unlock()
			return
		}
	}
}

// probe runs one probe of w (begin was called, and a slot of d.inFlight
// taken, which it gives back) and records its verdict.
func (s *watches) probe(w *watch, slot time.Time) {
	defer s.d.inFlight.Add(-1)
	mod := w.mod.Load()
	start := s.now()
	if !slot.IsZero() && start.Sub(slot) > lateAfter {
		s.late.Add(1)
	}
	res := s.d.runIn(s.ctx, mod, w.tg, mod.Cmd.Deadline, 0)
	if s.ctx.Err() != nil {
		s.finish(w, nil, start) // stopping: a cancelled probe is no verdict
		return
	}
	if s.d.Metrics != nil {
		s.d.Metrics.probed(mod.Name, res)
	}
	s.finish(w, &res, start)
}

// finish records a verdict (if any) of a probe started at start, and ends
// the flight.
func (s *watches) finish(w *watch, res *Result, start time.Time) {
	if res != nil {
		snap := w.snap.Load().next(*res, s.now(), w.mod.Load().Watch)
		snap.started = start
		w.snap.Store(snap)
	}
	w.mu.Lock()
	w.endFlightLocked()
	w.mu.Unlock()
}

// sweepDone is a swept probe's end, called by the sweeper from a
// goroutine of its own (or from Sweep, for a SYN it could not send): the
// probe's result becomes the verdict the ordinary path would give for it
// (check.Verdict.Attempted, then Graded), counted as probe counts one.
// It must not block, and takes no lock but the watch's.
func (s *watches) sweepDone(t *halfopen.SweepTarget, r probe.Result, _ time.Time) {
	w := t.Owner.(*watch)
	w.mu.Lock()
	start, real := w.sweep.at, w.sweep.real
	w.mu.Unlock()
	if s.ctx.Err() != nil {
		s.finish(w, nil, start) // closed: as a cancelled probe, no verdict
		return
	}
	mod := w.mod.Load()
	ran := time.Since(real)
	v := check.Verdict{Command: mod.Cmd, Target: &w.sweep.probed}
	v.Attempted(r, ran, 1)
	res := graded(v, mod, ran, mod.Cmd.Deadline)
	if s.d != nil && s.d.Metrics != nil {
		s.d.Metrics.probed(mod.Name, res)
	}
	s.finish(w, &res, start)
}

// passes says whether a verdict counts as up: OK, or with agent_weight a
// WARNING that only the response time made.
func passes(res Result, spec *WatchSpec) bool {
	if res.State == exitcode.OK {
		return true
	}
	return spec.AgentWeight && timeWarningOnly(res)
}

func timeWarningOnly(res Result) bool {
	return res.State == exitcode.Warning && res.Verdict.State == exitcode.OK && !res.Timeout && res.Measured
}

// counts says whether a verdict counts toward fall and rise: not when the
// check could not check (UNKNOWN), nor when the daemon's resolver gave no
// answer or the name resolved outside allow (the fronts refuse those: a
// SERVFAIL must not take a backend a step toward down). The first verdict
// that counts decides the state at once; until one came, what is answered
// is the latest verdict, never nothing.
func counts(res Result) bool {
	return res.State != exitcode.Unknown && refusal(&res) == ""
}

// refusal is why the fronts refuse a verdict rather than answer it: the
// Reason refusedByResolver gives, "unknown" for a check that could not
// check, "" for a verdict.
func refusal(res *Result) string {
	switch {
	case errors.Is(res.Err, errNotAllowed):
		return string(NotAllowed)
	case errors.Is(res.Err, errResolverTimeout):
		return string(ResolverTimeout)
	case errors.Is(res.Err, errResolverFailed):
		return string(ResolverFailed)
	case res.State == exitcode.Unknown:
		return "unknown"
	}
	return ""
}

// next is the snapshot after one more verdict (old may be nil).
func (old *snapshot) next(res Result, at time.Time, spec *WatchSpec) *snapshot {
	s := &snapshot{}
	if old != nil {
		*s = *old
	}
	r := new(Result)
	*r = res
	r.Watched = true
	if refusal(&res) != "" {
		// A resolver's failure is graded CRITICAL by the check; kept as
		// what it is, could not check (UNKNOWN), so that /watches and the
		// history do not show it as a failed backend.
		r.State = exitcode.Unknown
	}
	res.State = r.State
	if s.n == 0 || res.State != s.last.State {
		s.changed = at
	}
	s.last, s.at, s.weight = r, at, 0
	copy(s.history[1:], s.history[:historyLen-1])
	s.history[0] = int8(res.State)
	s.n++
	if res.Measured && !res.Timeout {
		t := res.Took.Seconds()
		if s.ewma == 0 {
			s.ewma = t
		} else {
			s.ewma = ewmaWeight*t + (1-ewmaWeight)*s.ewma
		}
	}
	switch {
	case !counts(res):
		// Could not check: answered as such (the fronts refuse it), and no
		// count for either side.
		s.answer = r
		return s
	case passes(res, spec):
		s.counted++
		s.passes++
		s.fails = 0
		s.lastOK = r
		if s.counted == 1 || s.passes >= spec.Rise {
			s.up = true
		}
	default:
		s.counted++
		s.fails++
		s.passes = 0
		s.lastBad = r
		if s.counted == 1 || s.fails >= spec.Fall {
			s.up = false
		}
	}
	if s.up {
		s.answer = s.lastOK
		if spec.AgentWeight {
			s.weight = weight(s.ewma, spec)
		}
	} else {
		s.answer = s.lastBad
	}
	return s
}

// weight is the agent's weight in percent from the EWMA of the response
// time: 100 at or under -w, falling linearly to 10 at -c, 10 past it.
func weight(ewma float64, spec *WatchSpec) int {
	switch {
	case ewma <= spec.WeightFull:
		return 100
	case ewma >= spec.WeightLow:
		return 10
	}
	return 100 - int(90*(ewma-spec.WeightFull)/(spec.WeightLow-spec.WeightFull)+0.5)
}

// ask answers a request about a watched module: from memory when the
// verdict is fresh, else from the probe in flight or one it starts, within
// wait.
func (s *watches) ask(ctx context.Context, mod *Module, tg target.Spec, wait time.Duration, max int) (Result, error) {
	k := watchKey{mod.Name, tg.Host, tg.Port}
	now := s.now()
	w := s.lookup(k)
	if w == nil {
		var ok bool
		if w, ok = s.add(k, mod, tg, false, now, max); !ok {
			s.refused.Add(1)
			return Result{}, refuse(Overloaded, "%d targets watched, the most max_watches allows", max)
		}
	}
	// Written only when it moves on, so that asks do not all dirty the
	// same cache line.
	if n := now.UnixNano(); n-w.lastAsk.Load() > int64(time.Second) {
		w.lastAsk.Store(n)
	}
	if r, ok := s.fresh(w, mod, now); ok {
		return r, nil
	}
	var real time.Time
	if w.sweep != nil {
		real = time.Now()
	}
	started := s.begin(w, now, real)
	done, ok := w.waiter()
	switch {
	case !ok:
		return Result{}, refuse(NoVerdict, "the watch of %s ended (reload)", tg.Host)
	case started && w.sweep != nil:
		// Through the sweeper, as the scheduled probes: the target's
		// source ports rotate in one sequence. No worker, no slot of
		// max_in_flight: a swept probe costs no goroutine.
		s.sw.Sweep(w.sweep.one[:])
	case started:
		// An ask's probe takes a slot of max_in_flight like a per-ask
		// probe: a flood of first asks must not run past it.
		if limit := s.d.cfg.Load().MaxInFlight; s.d.inFlight.Add(1) > int64(limit) {
			s.d.inFlight.Add(-1)
			s.finish(w, nil, time.Time{})
			return Result{}, refuse(Overloaded, "%d probes in flight, the most max_in_flight allows", limit)
		}
		go s.probe(w, time.Time{})
	}
	if started && wait >= mod.Cmd.Deadline {
		// This ask's probe has the same deadline as the ask: without a
		// margin the ask's timer, started first, always beat the probe's
		// own timeout verdict, and a dead backend's first ask got none.
		wait += askMargin
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		return Result{}, refuse(NoVerdict, "no verdict within the caller's deadline")
	case <-t.C:
		return Result{}, refuse(NoVerdict, "no verdict within the ask's deadline")
	}
	// A probe cancelled (Close) left the old snapshot: stale, so no verdict.
	if r, ok := s.fresh(w, mod, s.now()); ok {
		return r, nil
	}
	return Result{}, refuse(NoVerdict, "the watch of %s has no fresh verdict", tg.Host)
}

// fresh is the answer from memory, if the verdict is younger than every
// plus the deadline.
func (s *watches) fresh(w *watch, mod *Module, now time.Time) (Result, bool) {
	snap := w.snap.Load()
	if snap == nil || now.Sub(snap.at) > mod.Watch.Every+mod.Cmd.Deadline {
		return Result{}, false
	}
	return snap.result(now), true
}

func (snap *snapshot) result(now time.Time) Result {
	r := *snap.answer
	r.Age = now.Sub(snap.at)
	r.Weight = snap.weight
	return r
}

// wakeAt is when the scheduler wakes for a slot at next: the first tick
// at or after it, so that the slots of one tick are taken at one wake-up.
func wakeAt(next time.Time) time.Time {
	w := next.Truncate(tick)
	if w.Before(next) {
		w = w.Add(tick)
	}
	return w
}

// run is the scheduler: it sleeps until the tick of the next slot, or
// until a new watch comes first. Its timer waits in the poller
// (polltimer): ten wake-ups a second with a runtime timer cost a mostly
// idle daemon three or four of the process's own, sysmon's included.
func (s *watches) run() {
	defer close(s.loopDone)
	t := polltimer.New()
	defer t.Close()
	for {
		next := s.due(s.now())
		s.wakes.Add(1)
		var c <-chan struct{}
		if !next.IsZero() {
			t.Reset(wakeAt(next).Sub(s.now()))
			c = t.C
		}
		select {
		case <-c:
		case <-s.wake:
			t.Stop()
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *watches) start() {
	s.loopDone = make(chan struct{})
	go s.run()
}

// close ends every watch at once: probes in flight are cancelled.
func (s *watches) close() {
	s.stop()
	if s.loopDone != nil {
		<-s.loopDone
	}
}

// reconfigure applies a new configuration: the watches of a module whose
// command line and every did not change are kept (with their history),
// the others ended, as are literal targets now outside allow; listed
// targets are watched.
func (s *watches) reconfigure(cfg *Config, now time.Time) {
	s.mu.Lock()
	s.maxWork = cfg.MaxInFlight
	var all []*watch
	for i := range s.shards {
		sh := &s.shards[i]
		sh.RLock()
		for _, w := range sh.m {
			all = append(all, w)
		}
		sh.RUnlock()
	}
	for _, w := range all {
		old := w.mod.Load()
		mod := cfg.Modules[w.key.module]
		if !sameWatch(old, mod) || (w.tg.IP.IsValid() && !cfg.Allowed(w.tg.IP)) {
			s.endLocked(w)
			continue
		}
		w.mod.Store(mod)
		if w.static && !mod.Watch.listed(w.tg) {
			// No longer listed: it lives on while asked.
			w.static = false
			w.lastAsk.Store(now.UnixNano())
		}
	}
	s.mu.Unlock()
	for _, mod := range cfg.Modules {
		if mod.Watch == nil {
			continue
		}
		for _, tg := range mod.Watch.allListed() {
			w, _ := s.add(watchKey{mod.Name, tg.Host, tg.Port}, mod, tg, true, now, cfg.MaxWatches)
			s.mu.Lock()
			w.static = true
			s.mu.Unlock()
		}
	}
	s.kick()
}

// sameWatch says whether a watch of module old may go on as one of cur
// (a reload's): cur keeps watch, with the same command line and every.
func sameWatch(old, cur *Module) bool {
	return cur != nil && cur.Watch != nil && cur.Watch.Every == old.Watch.Every && slices.Equal(cur.Argv, old.Argv)
}

// counts are the watches per module.
func (s *watches) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.perMod))
	for k, v := range s.perMod {
		m[k] = v
	}
	return m
}

// watchHeap orders watches by their next slot. Each entry carries its
// slot beside the pointer: the comparisons of a sift then read the
// heap's own array, not two watches scattered over the heap (with 65,536
// watches those cache misses were 15% of the daemon's CPU).
type watchHeap []heapEntry

// heapEntry is a watch in the heap: at is its slot (w.slot), in Unix
// nanoseconds.
type heapEntry struct {
	at int64
	w  *watch
}

func (h watchHeap) Len() int           { return len(h) }
func (h watchHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h watchHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].w.index, h[j].w.index = i, j
}
func (h *watchHeap) Push(x any) {
	e := x.(heapEntry)
	e.w.index = len(*h)
	*h = append(*h, e)
}
func (h *watchHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = heapEntry{}
	e.w.index = -1
	*h = old[:len(old)-1]
	return e
}

// WatchState is one watch as /watches shows it.
type WatchState struct {
	Module, Target string
	// Last is the latest verdict; Answer what the fronts answer after
	// fall and rise (the same unless a streak is still counting). Both
	// are the watch's own, never changed: read them, do not write.
	Last, Answer *Result
	Weight       int // the agent's weight, percent; 0 for none
	At, Changed  time.Time
	EWMA         time.Duration // of the measured response times
	History      []exitcode.State
	// Refused says why the fronts refuse the latest verdict rather than
	// answer it: not_allowed, resolver_failed, resolver_timeout, or
	// unknown (the check could not check); "" when it is a verdict.
	Refused string
}

// EachWatch calls fn for every watch that has a verdict, a shard at a
// time, holding no lock while fn runs (a slow scrape must not block new
// watches). ws is reused from call to call: copy what is kept. fn returns
// false to stop. The order is the map's, not sorted.
func (d *Daemon) EachWatch(fn func(ws *WatchState) bool) {
	s := d.watches
	var (
		ws    WatchState
		hist  [historyLen]exitcode.State
		batch []*watch
	)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.RLock()
		batch = batch[:0]
		for _, w := range sh.m {
			batch = append(batch, w)
		}
		sh.RUnlock()
		for _, w := range batch {
			snap := w.snap.Load()
			if snap == nil {
				continue
			}
			for i, st := range snap.history {
				hist[i] = exitcode.State(st)
			}
			ws = WatchState{
				Module: w.key.module, Target: w.name, Last: snap.last, Answer: snap.answer, Weight: snap.weight,
				At: snap.at, Changed: snap.changed, EWMA: time.Duration(snap.ewma * float64(time.Second)),
				History: hist[:min(snap.n, historyLen)], Refused: refusal(snap.last),
			}
			if !fn(&ws) {
				return
			}
		}
	}
}

// WatchCount is how many watches there are, static ones included.
func (d *Daemon) WatchCount() int {
	if d.watches == nil {
		return 0
	}
	return int(d.watches.count.Load())
}

// Watches are the watches that have a verdict, by module and target.
func (d *Daemon) Watches() []WatchState {
	var out []WatchState
	d.EachWatch(func(ws *WatchState) bool {
		w := *ws
		w.History = slices.Clone(ws.History)
		out = append(out, w)
		return true
	})
	slices.SortFunc(out, func(a, b WatchState) int {
		if c := strings.Compare(a.Module, b.Module); c != 0 {
			return c
		}
		return strings.Compare(a.Target, b.Target)
	})
	return out
}
