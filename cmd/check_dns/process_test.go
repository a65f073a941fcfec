package main

import (
	"bytes"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// These tests run the built binary as the callers do, for what only a
// real process shows: file descriptors, signals, and the exit itself.

// built is the binary under test; buildBinary builds it once into binDir.
var built = proctest.Binary{Name: "check_dns"}

func buildBinary(t *testing.T) string {
	bin := built.Path(t, binDir)
	return bin
}

func exitCode(t *testing.T, err error) int { return proctest.ExitCode(t, err) }

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
	bin := buildBinary(t)
	var out bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-t", "10", "--name", "silent.lab.test"}, hp(theDNS.Addr)...)...)
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	code := exitCode(t, cmd.Wait())
	if took := time.Since(sent); took > time.Second {
		t.Errorf("exited %v after SIGTERM", took)
	}
	if code != 2 || !strings.HasPrefix(out.String(), "DNS CRITICAL - ") || !strings.Contains(out.String(), "interrupted by terminated") {
		t.Errorf("exit %d, output %q", code, out.String())
	}
}

// TestProcessDeadline: from outside, the process is gone within --timeout
// + 100 ms against a peer that never answers. Best of three, so one late
// wake-up on a loaded machine is not taken for a broken deadline.
func TestProcessDeadline(t *testing.T) {
	bin := buildBinary(t)
	best := time.Hour
	for range 3 {
		start := time.Now()
		err := exec.Command(bin, append([]string{"-t", "0.5", "--attempts", "3", "--tcp", "--name", "silent.lab.test"}, hp(theDNS.Addr)...)...).Run()
		best = min(best, time.Since(start))
		if code := exitCode(t, err); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	}
	if best > 600*time.Millisecond {
		t.Errorf("process took %v at best, want within 0.5 s + 100 ms", best)
	}
}

// TestNoProcessSpawning: callers kill only the check's own process (HAProxy
// signals the direct child only), so the binary must never fork. It does
// not even link the package that could.
func TestNoProcessSpawning(t *testing.T) { proctest.NoSpawning(t) }
