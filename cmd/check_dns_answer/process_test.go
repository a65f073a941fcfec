package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// These tests run the built binary as the callers do, for what only a
// real process shows: file descriptors, signals, and the exit itself.

// built is the binary under test; buildBinary builds it once into binDir.
var built = proctest.Binary{Name: "check_dns_answer"}

func buildBinary(t *testing.T) string {
	bin := built.Path(t, binDir)
	return bin
}

// TestClosedStdioLikeHAProxy: HAProxy in daemon mode runs checks with fds
// 0-2 closed. The verdict must still be right: no socket may land on fd 1
// and receive the output, and writing nowhere must not crash the check.
func TestClosedStdioLikeHAProxy(t *testing.T) {
	bin := buildBinary(t)
	for _, tt := range []struct {
		args []string
		code int
	}{
		{hp(theDNS.Addr), 0},
		{append([]string{"--name", "refused.lab.test"}, hp(theDNS.Addr)...), 2},
		{[]string{"127.0.0.1", "0"}, 3},
	} {
		if got := proctest.ClosedStdio(t, bin, tt.args...); got != tt.code {
			t.Errorf("%v with fds 0-2 closed: exit %d, want %d", tt.args, got, tt.code)
		}
	}
}

// TestSIGTERMGivesVerdict: keepalived (misc_timeout) and HAProxy (check
// timeout) send SIGTERM; the check answers at once instead of dying mute.
func TestSIGTERMGivesVerdict(t *testing.T) {
	code, out, took := proctest.Terminate(t, buildBinary(t), append([]string{"-t", "10", "--name", "silent.lab.test"}, hp(theDNS.Addr)...)...)
	if took > time.Second {
		t.Errorf("exited %v after SIGTERM", took)
	}
	if code != 2 || !strings.HasPrefix(out, "DNS CRITICAL - ") || !strings.Contains(out, "interrupted by terminated") {
		t.Errorf("exit %d, output %q", code, out)
	}
}

// TestProcessDeadline: from outside, the process is gone within --timeout
// + 100 ms against a peer that never answers. Best of three, so one late
// wake-up on a loaded machine is not taken for a broken deadline.
func TestProcessDeadline(t *testing.T) {
	proctest.Deadline(t, 2, buildBinary(t), append([]string{"-t", "0.5", "--attempts", "3", "--tcp", "--name", "silent.lab.test"}, hp(theDNS.Addr)...)...)
}

// TestNoProcessSpawning: callers kill only the check's own process (HAProxy
// signals the direct child only), so the binary must never fork. It does
// not even link the package that could.
func TestNoProcessSpawning(t *testing.T) { proctest.NoSpawning(t) }
