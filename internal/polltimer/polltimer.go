// Package polltimer is a one-shot timer that waits in Go's network poller,
// on a timerfd(2), rather than in the runtime's timer heap.
//
// lbcheckd's schedulers wake ten times a second. On Linux the runtime
// sleeps for a timer with epoll_pwait(2), whose timeout is in whole
// milliseconds rounded down: each timer wakes the process early and then
// again a millisecond later. And the runtime's monitor thread (sysmon),
// asleep while every P idles, sleeps only until the next timer: it wakes
// at each one too, and polls until the work it finds is done. On a VM
// where a wake-up is dear those wake-ups cost more than the work of a
// small tick. A timerfd's expiry is exact to the nanosecond, it ends the
// poller's wait once, and a process whose only timers are timerfds leaves
// sysmon asleep.
//
// Where timerfd_create(2) fails (a seccomp policy, an old kernel) the
// Timer falls back to a time.Timer with the same behaviour.
package polltimer

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// Timer fires once per Reset, on C. Reset and Stop take out a fire still
// waiting in C, but one from before them can, rarely, come after (its
// expiry read and not yet passed on): a receiver checks the time itself,
// as the schedulers do (they take what is due).
type Timer struct {
	C <-chan struct{}
	c chan struct{}

	f    *os.File // nil: the fallback, gt
	rc   syscall.RawConn
	spec unix.ItimerSpec
	set  func(fd uintptr) // bound once: a method value made per Reset would allocate
	err  error

	mu sync.Mutex
	gt *time.Timer
}

// New makes a stopped Timer. Close it to end its goroutine and descriptor.
func New() *Timer { return newTimer(true) }

// newTimer is New; without fd, the fallback (for its tests).
func newTimer(fd bool) *Timer {
	c := make(chan struct{}, 1)
	t := &Timer{C: c, c: c}
	t.set = t.settime
	if !fd || t.open() != nil {
		t.f, t.rc = nil, nil
		t.gt = time.AfterFunc(time.Hour, t.fire)
		t.gt.Stop()
	}
	return t
}

func (t *Timer) open() error {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("timerfd_create: %w", err)
	}
	t.f = os.NewFile(uintptr(fd), "timerfd")
	// Only a file in the poller takes a deadline; one it refused would
	// leave the reader blocked in read(2) holding its P.
	if err := t.f.SetDeadline(time.Time{}); err != nil {
		t.f.Close()
		return fmt.Errorf("timerfd in the poller: %w", err)
	}
	if t.rc, err = t.f.SyscallConn(); err != nil {
		t.f.Close()
		return err
	}
	go t.wait()
	return nil
}

// wait reads each expiry and passes it on to C, until Close.
func (t *Timer) wait() {
	var buf [8]byte // the expiry count
	for {
		if _, err := sockopt.RawRead(t.rc, buf[:]); err != nil && !errors.Is(err, unix.EINTR) {
			return // closed
		}
		t.fire()
	}
}

func (t *Timer) fire() {
	select {
	case t.c <- struct{}{}:
	default:
	}
}

// Reset arms the timer to fire once after d (at once if d <= 0), in place
// of any arming before.
func (t *Timer) Reset(d time.Duration) {
	t.drain()
	if t.f == nil {
		t.mu.Lock()
		t.gt.Reset(d)
		t.mu.Unlock()
		return
	}
	t.arm(max(d, 1)) // a zero value would disarm it
}

// Stop disarms the timer and empties C.
func (t *Timer) Stop() {
	if t.f == nil {
		t.mu.Lock()
		t.gt.Stop()
		t.mu.Unlock()
	} else {
		t.arm(0)
	}
	t.drain()
}

func (t *Timer) drain() {
	select {
	case <-t.c:
	default:
	}
}

func (t *Timer) arm(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spec = unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := t.rc.Control(t.set); err != nil {
		return // closed: it will not fire
	}
	if t.err != nil {
		// It cannot be armed (it never could, in practice): a timer
		// that never fired would stop a scheduler, so fire now and let
		// the caller find nothing due and come back.
		t.fire()
	}
}

// settime is timerfd_settime(2) as a raw system call: an ordinary one
// made while every P idles wakes sysmon, which is what this is for.
func (t *Timer) settime(fd uintptr) {
	_, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&t.spec)), 0, 0, 0)
	t.err = nil
	if e != 0 {
		t.err = e
	}
}

// Close ends the timer; it does not fire after.
func (t *Timer) Close() error {
	if t.f == nil {
		t.mu.Lock()
		t.gt.Stop()
		t.mu.Unlock()
		return nil
	}
	return t.f.Close()
}
