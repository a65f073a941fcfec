// Package procs sizes Go's scheduler (GOMAXPROCS) to the load lbcheckd
// has, not to the cores the machine has.
//
// Go runs goroutines on GOMAXPROCS Ps, one per core by default. When a
// goroutine becomes runnable while a P is idle (a packet for the
// half-open reader, a tick's timer, an ask's connection), the runtime
// wakes a thread for that P, which mostly finds the work already taken
// and sleeps again. A health-check daemon is idle most of the time and
// busy in short bursts, so it pays those wake-ups on nearly every event:
// measured on a 2-core guest, a watched half-open probe cost 0.026-0.031
// ms of CPU with two Ps and 0.021-0.022 ms with one, and the daemon's
// context switches fell from about 700 to 60 a second (docs/benchmarks.md).
//
// So the Sizer runs the daemon on as many Ps as it keeps busy: it samples
// the process's CPU time, grows at once when the Ps it has are busy more
// than Grow of their time (a saturated daemon doubles), and shrinks only
// after Calm samples in a row would all have fitted in fewer Ps at
// Shrink of their time. It never goes above the runtime's own choice at
// start (the cores, or a container's CPU limit), and it is not used when
// the operator set GOMAXPROCS.
package procs

import (
	"context"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/polltimer"
)

// LargeHeap is the live heap from which the Sizer keeps at least two Ps.
// With one P the runtime runs no idle GC mark worker, only a fractional
// one at 25%: a mark phase lasts several times longer, and what the daemon
// allocates meanwhile counts as live, raising the next heap goal. Measured
// on 65,536 swept targets (about 110 MiB live): peak RSS 249 MiB on two
// Ps, 268 MiB on one.
const LargeHeap = 64 << 20

// Defaults: a sample every half second, more Ps when those in use are
// busy over 60% of the time, fewer when 5 s in a row would have kept
// fewer busy under 40%. The band between keeps it from swinging.
const (
	DefaultInterval = 500 * time.Millisecond
	DefaultGrow     = 0.6
	DefaultShrink   = 0.4
	DefaultCalm     = 10
)

// Sizer decides how many Ps the process runs on from its CPU use.
type Sizer struct {
	Max    int     // the most Ps; at least 1
	Grow   float64 // busy fraction of the current Ps past which it grows
	Shrink float64 // busy fraction the smaller count must stay under
	Calm   int     // samples in a row a smaller count must fit

	cur  int
	calm int // samples in a row that fitted in fewer Ps
	want int // the most Ps any of them needed
	min  int // the fewest Ps for the heap (SetHeap)
}

// SetHeap tells the Sizer the live heap: from LargeHeap on it keeps at
// least two Ps (if Max allows), growing at the next sample.
func (s *Sizer) SetHeap(live uint64) {
	s.min = 1
	if live >= LargeHeap {
		s.min = min(2, s.Max)
	}
}

// New is a Sizer with the defaults, at most limit Ps, starting at one: a
// daemon starting has no load yet, and the first busy sample grows it.
func New(limit int) *Sizer {
	return &Sizer{Max: max(limit, 1), Grow: DefaultGrow, Shrink: DefaultShrink, Calm: DefaultCalm, cur: 1, min: 1}
}

// Procs is the current count.
func (s *Sizer) Procs() int { return s.cur }

// Next takes one sample, busy being the cores' worth of CPU the process
// used over it (0.5: half of one core), and returns the Ps to run on.
func (s *Sizer) Next(busy float64) int {
	if busy < 0 || math.IsNaN(busy) {
		busy = 0
	}
	if s.cur < s.min {
		s.cur = s.min
		s.calm, s.want = 0, 0
	}
	if busy > s.Grow*float64(s.cur) && s.cur < s.Max {
		// Saturated Ps cannot show more than their own count busy:
		// double, or take what the sample asks for if that is more.
		s.cur = min(s.Max, max(2*s.cur, need(busy, s.Grow)))
		s.calm, s.want = 0, 0
		return s.cur
	}
	n := max(1, s.min, need(busy, s.Shrink))
	if n >= s.cur {
		s.calm, s.want = 0, 0
		return s.cur
	}
	s.calm++
	s.want = max(s.want, n)
	if s.calm >= s.Calm {
		s.cur = s.want
		s.calm, s.want = 0, 0
	}
	return s.cur
}

// need is the Ps that keep busy under frac of their time.
func need(busy, frac float64) int {
	n := math.Ceil(busy / frac)
	if n > float64(math.MaxInt32) {
		return math.MaxInt32
	}
	return int(n)
}

// Fixed says why the process's Ps must not be sized, or "": the operator
// set GOMAXPROCS.
func Fixed() string {
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		return "GOMAXPROCS=" + v + " is set"
	}
	return ""
}

// Run sizes the process's Ps every interval until ctx ends, at most the
// runtime's choice, from one; changed, if not nil, hears of each change
// (the first from the runtime's choice to one). The runtime's own count is
// restored when it returns.
func Run(ctx context.Context, interval time.Duration, changed func(from, to int)) {
	New(runtime.GOMAXPROCS(0)).Run(ctx, interval, changed)
}

// Run is the package's Run with s's thresholds; s.Max is not past the
// runtime's choice.
func (s *Sizer) Run(ctx context.Context, interval time.Duration, changed func(from, to int)) {
	limit := runtime.GOMAXPROCS(0)
	s.Max = min(s.Max, limit)
	if s.Procs() != limit {
		runtime.GOMAXPROCS(s.Procs())
		if changed != nil {
			changed(limit, s.Procs())
		}
	}
	defer func() {
		if s.Procs() != limit {
			runtime.GOMAXPROCS(limit)
		}
	}()
	// A timer in the poller (polltimer) rather than a Ticker: the
	// runtime's monitor, sysmon, sleeps until the next runtime timer, so
	// a Ticker would wake it twice a second in an otherwise idle daemon.
	t := polltimer.New()
	defer t.Close()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last, err := cpuTime()
	lastAt := time.Now()
	for {
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, cerr := cpuTime()
		at := time.Now()
		wall := at.Sub(lastAt)
		ok := err == nil && cerr == nil && wall > 0
		busy := float64(c-last) / float64(wall)
		last, lastAt, err = c, at, cerr
		if !ok {
			continue // a sample it could not take says nothing
		}
		metrics.Read(live)
		if live[0].Value.Kind() == metrics.KindUint64 {
			s.SetHeap(live[0].Value.Uint64())
		}
		from := s.Procs()
		if to := s.Next(busy); to != from {
			runtime.GOMAXPROCS(to)
			if changed != nil {
				changed(from, to)
			}
		}
	}
}

// cpuTime is the process's user and system time, every thread's.
func cpuTime() (time.Duration, error) {
	var ru unix.Rusage
	// A raw system call: an ordinary one made while every P idles wakes
	// sysmon (see polltimer).
	if _, _, e := unix.RawSyscall(unix.SYS_GETRUSAGE, unix.RUSAGE_SELF, uintptr(unsafe.Pointer(&ru)), 0); e != 0 {
		return 0, e
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
