// Package gstate reads the scheduler's state of goroutines from a dump of
// every stack, for tests that must tell a goroutine parked in Go's poller
// ("IO wait") from one blocked in a system call ("syscall"), which holds
// an M and keeps sysmon polling.
package gstate

import (
	"runtime"
	"strings"
)

// Of is the state of each goroutine whose stack holds fn, a function as
// the dump names it ("halfopen.(*Mux).read"), e.g. "IO wait", "running",
// "syscall" ("IO wait, 2 minutes" is "IO wait").
func Of(fn string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var states []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, fn+"(") {
			continue
		}
		head, _, _ := strings.Cut(g, "\n")
		_, s, _ := strings.Cut(head, "[")
		s, _, _ = strings.Cut(s, "]")
		s, _, _ = strings.Cut(s, ",")
		states = append(states, s)
	}
	return states
}
