package polltimer

import (
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/lab/gstate"
)

// kinds runs a test on the timerfd Timer and on the fallback.
func kinds(t *testing.T, f func(t *testing.T, tm *Timer)) {
	for _, k := range []struct {
		name string
		fd   bool
	}{{"timerfd", true}, {"fallback", false}} {
		t.Run(k.name, func(t *testing.T) {
			tm := newTimer(k.fd)
			defer tm.Close()
			if k.fd && tm.f == nil {
				t.Fatal("timerfd_create failed here: the timerfd Timer is untested")
			}
			f(t, tm)
		})
	}
}

func fired(tm *Timer, within time.Duration) bool {
	select {
	case <-tm.C:
		return true
	case <-time.After(within):
		return false
	}
}

func TestFiresOnceAfterReset(t *testing.T) {
	kinds(t, func(t *testing.T, tm *Timer) {
		if fired(tm, 50*time.Millisecond) {
			t.Fatal("a new Timer fired before any Reset")
		}
		const d = 30 * time.Millisecond
		start := time.Now()
		tm.Reset(d)
		if !fired(tm, 5*time.Second) {
			t.Fatal("no fire within 5 s of Reset(30ms)")
		}
		if el := time.Since(start); el < d {
			t.Errorf("fired after %v, before the %v asked", el, d)
		}
		if fired(tm, 100*time.Millisecond) {
			t.Error("fired twice for one Reset")
		}
	})
}

func TestResetReplaces(t *testing.T) {
	kinds(t, func(t *testing.T, tm *Timer) {
		tm.Reset(time.Hour)
		tm.Reset(10 * time.Millisecond)
		if !fired(tm, 5*time.Second) {
			t.Fatal("a shorter Reset did not replace a longer one")
		}
		tm.Reset(20 * time.Millisecond)
		tm.Reset(time.Hour)
		if fired(tm, 150*time.Millisecond) {
			t.Error("a longer Reset did not replace a shorter one")
		}
	})
}

func TestResetTakesOutAStaleFire(t *testing.T) {
	kinds(t, func(t *testing.T, tm *Timer) {
		tm.Reset(0)
		time.Sleep(50 * time.Millisecond) // the fire is in C
		tm.Reset(time.Hour)
		if fired(tm, 100*time.Millisecond) {
			t.Error("a fire from before Reset(1h) came after it")
		}
	})
}

func TestResetNowAndNegative(t *testing.T) {
	kinds(t, func(t *testing.T, tm *Timer) {
		for _, d := range []time.Duration{0, -time.Second} {
			tm.Reset(d)
			if !fired(tm, 5*time.Second) {
				t.Errorf("Reset(%v) did not fire at once", d)
			}
		}
	})
}

func TestStop(t *testing.T) {
	kinds(t, func(t *testing.T, tm *Timer) {
		tm.Reset(20 * time.Millisecond)
		tm.Stop()
		if fired(tm, 150*time.Millisecond) {
			t.Error("fired after Stop")
		}
		// A fire already waiting in C is taken out by Stop.
		tm.Reset(0)
		time.Sleep(50 * time.Millisecond)
		tm.Stop()
		if fired(tm, 50*time.Millisecond) {
			t.Error("a fire from before Stop was still in C")
		}
	})
}

func TestClose(t *testing.T) {
	kinds(t, func(t *testing.T, tm *Timer) {
		want := 0
		if tm.f != nil {
			want = 1 // the timerfd's reader
		}
		if n := waitersBecome(want); n != want {
			t.Fatalf("%d timer goroutines before Close, want %d", n, want)
		}
		tm.Reset(20 * time.Millisecond)
		if err := tm.Close(); err != nil {
			t.Fatal(err)
		}
		if fired(tm, 150*time.Millisecond) {
			t.Error("fired after Close")
		}
		tm.Reset(time.Millisecond) // harmless after Close
		tm.Stop()
		if n := waitersBecome(0); n != 0 {
			t.Errorf("%d timer goroutines after Close, want 0", n)
		}
	})
}

// waitersBecome waits up to a second for n timer goroutines; it returns
// how many there are.
func waitersBecome(n int) int {
	var got int
	for range 100 {
		if got = len(waiterStates()); got == n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return got
}

// TestWaitsInPoller: the goroutine that waits for the timerfd is parked in
// the poller ("IO wait"), not blocked in read(2), which would hold an M
// in a system call and keep sysmon polling.
func TestWaitsInPoller(t *testing.T) {
	tm := New()
	defer tm.Close()
	if tm.f == nil {
		t.Fatal("timerfd_create failed here")
	}
	tm.Reset(time.Hour)
	var states []string
	for range 100 {
		time.Sleep(10 * time.Millisecond)
		states = waiterStates()
		if len(states) == 1 && states[0] != "running" && states[0] != "runnable" {
			break
		}
	}
	if len(states) != 1 || states[0] != "IO wait" {
		t.Errorf("the timer's goroutine is %q, want one, \"IO wait\"", states)
	}
}

// waiterStates is the state of each goroutine in (*Timer).wait.
func waiterStates() []string { return gstate.Of("polltimer.(*Timer).wait") }
