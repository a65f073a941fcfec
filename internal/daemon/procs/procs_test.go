package procs

import (
	"context"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestSizer(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		samples []float64 // cores busy
		want    []int     // Ps after each sample
	}{
		{"idle shrinks after Calm samples", 4,
			[]float64{0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02},
			[]int{4, 4, 4, 4, 4, 4, 4, 4, 4, 1, 1}},
		{"shrinks to the most any calm sample needed", 4,
			[]float64{0.5, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5},
			[]int{4, 4, 4, 4, 4, 4, 4, 4, 4, 3}}, // 0.9/0.4 = 2.25: 3
		{"a busy sample starts the calm over", 2,
			[]float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1},
			[]int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1}},
		{"grows at once when saturated, doubling", 8,
			append(calm(10, 0.1), 1.0, 2.0, 3.9),
			append(repeat(8, 9), 1, 2, 4, 8)},
		{"grows to what the sample needs if more than double", 8,
			append(calm(10, 0.1), 2.5), // threads in system calls run without a P
			append(repeat(8, 9), 1, 5)},
		{"between the thresholds it stays", 2,
			append(calm(10, 0.1), 0.61, 0.5, 0.7, 0.75, 0.79, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7),
			append(repeat(2, 9), 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)},
		{"never past Max", 2,
			append(calm(10, 0.1), 1.0, 2.0, 2.0),
			append(repeat(2, 9), 1, 2, 2, 2)},
		{"one core: nothing to size", 1,
			[]float64{0, 1, 5, 0, 0},
			[]int{1, 1, 1, 1, 1}},
		{"nonsense samples are idle ones", 2,
			[]float64{math.NaN(), -1, math.Inf(-1), -3, 0, 0, 0, 0, 0, 0},
			[]int{2, 2, 2, 2, 2, 2, 2, 2, 2, 1}},
		{"a huge sample is capped", 3,
			append(calm(10, 0), math.Inf(1), 1e300),
			append(repeat(3, 9), 1, 3, 3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.samples) != len(tc.want) {
				t.Fatalf("bad case: %d samples, %d wants", len(tc.samples), len(tc.want))
			}
			s := New(tc.max)
			if s.Procs() != 1 {
				t.Fatalf("starts at %d Ps, want 1", s.Procs())
			}
			for s.Procs() < tc.max { // as a busy start would
				s.Next(float64(s.Procs()))
			}
			for i, b := range tc.samples {
				if got := s.Next(b); got != tc.want[i] || got != s.Procs() {
					t.Fatalf("sample %d (%v): %d Ps (Procs %d), want %d", i, b, got, s.Procs(), tc.want[i])
				}
			}
		})
	}
}

func calm(n int, busy float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = busy
	}
	return s
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// TestLargeHeap: a large live heap keeps two Ps, however idle; a small
// one lets the Sizer come back to one.
func TestLargeHeap(t *testing.T) {
	s := New(4)
	s.SetHeap(LargeHeap)
	if got := s.Next(0); got != 2 {
		t.Fatalf("large heap, idle: %d Ps, want 2", got)
	}
	for i := range 3 * DefaultCalm {
		if got := s.Next(0); got != 2 {
			t.Fatalf("sample %d: %d Ps with a large heap", i, got)
		}
	}
	if got := s.Next(1.5); got != 4 {
		t.Errorf("large heap, busy: %d Ps, want 4", got)
	}
	s.SetHeap(LargeHeap - 1)
	for range DefaultCalm {
		s.Next(0)
	}
	if got := s.Procs(); got != 1 {
		t.Errorf("small heap, idle: %d Ps, want 1", got)
	}
	one := New(1)
	one.SetHeap(1 << 40)
	if got := one.Next(0); got != 1 {
		t.Errorf("Max 1, large heap: %d Ps", got)
	}
}

func TestNewAtLeastOne(t *testing.T) {
	for _, n := range []int{0, -4} {
		s := New(n)
		if got := s.Next(5); got != 1 || s.Max != 1 {
			t.Errorf("New(%d) saturated: %d Ps, Max %d", n, got, s.Max)
		}
	}
}

func TestFixed(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	if why := Fixed(); why != "" {
		t.Errorf("GOMAXPROCS unset: %q", why)
	}
	t.Setenv("GOMAXPROCS", "3")
	if why := Fixed(); why == "" {
		t.Error("GOMAXPROCS=3: the Sizer would override the operator")
	}
}

// TestRun: the test process starts on one P, grows to the runtime's
// count while goroutines spin, comes back to one when they stop, and Run
// gives the runtime's count back when it ends.
func TestRun(t *testing.T) {
	limit := runtime.GOMAXPROCS(0)
	if limit == 1 {
		t.Skip("one P already: nothing to size on this machine")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	changes := make(chan [2]int, 16)
	go func() {
		defer close(ended)
		// Grow at 20%: the spinners below get that much of a core even on a
		// machine busy with other tests.
		s := New(limit)
		s.Grow = 0.2
		s.Run(ctx, 10*time.Millisecond, func(from, to int) { changes <- [2]int{from, to} })
	}()
	next := func(what string) [2]int {
		t.Helper()
		select {
		case c := <-changes:
			return c
		case <-time.After(10 * time.Second):
			t.Fatalf("no change of Ps: %s", what)
		}
		return [2]int{}
	}
	if c := next("at start"); c != [2]int{limit, 1} {
		t.Fatalf("change %v at start, want %d -> 1", c, limit)
	}
	var spin atomic.Bool
	spin.Store(true)
	for range limit {
		go func() {
			for spin.Load() { // busy: what the Sizer must see
			}
		}()
	}
	grown := 1
	for grown < limit {
		c := next("spinning")
		if c[0] != grown || c[1] <= grown {
			spin.Store(false)
			t.Fatalf("change %v while spinning at %d Ps", c, grown)
		}
		grown = c[1]
	}
	spin.Store(false)
	if c := next("idle again"); c[1] != 1 {
		t.Errorf("change %v when idle again, want 1", c)
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS %d after the change to 1", got)
	}
	cancel()
	<-ended
	if got := runtime.GOMAXPROCS(0); got != limit {
		t.Errorf("GOMAXPROCS %d after Run, want the runtime's %d back", got, limit)
	}
}
