package gstate

import (
	"os"
	"testing"
	"time"
)

//go:noinline
func parkedInPoller(r *os.File, done chan struct{}) {
	var b [1]byte
	r.Read(b[:]) // a pipe in the poller: "IO wait" until the write end closes
	close(done)
}

//go:noinline
func parkedOnChannel(c chan struct{}) { <-c }

func TestOf(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan struct{})
	go parkedInPoller(r, done)
	c := make(chan struct{})
	go parkedOnChannel(c)
	defer close(c)

	want := map[string]string{"gstate.parkedInPoller": "IO wait", "gstate.parkedOnChannel": "chan receive"}
	for fn, state := range want {
		var got []string
		for range 100 {
			if got = Of(fn); len(got) == 1 && got[0] == state {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(got) != 1 || got[0] != state {
			t.Errorf("Of(%q) = %q, want [%q]", fn, got, state)
		}
	}
	if got := Of("gstate.noSuchFunction"); len(got) != 0 {
		t.Errorf("Of(a function no goroutine runs) = %q, want none", got)
	}
	w.Close()
	<-done
	if got := Of("gstate.parkedInPoller"); len(got) != 0 {
		t.Errorf("after it returned, Of = %q, want none", got)
	}
}
