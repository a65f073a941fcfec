package plugin

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// checkFake is testdata/check_fake, a binary around a probe that misbehaves
// on demand, built once into binDir.
var (
	checkFake = proctest.Binary{Name: "check_fake", Env: []string{"CGO_ENABLED=0"}, Pkg: "./testdata/check_fake"}
	binDir    string
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "plugin-test-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

func fakeBin(t *testing.T) string {
	t.Helper()
	return checkFake.Path(t, binDir)
}

// TestDeadlineWithStuckProbe: a probe that ignores its context entirely
// still cannot hold the process past the deadline: the watchdog prints
// the verdict and exits.
func TestDeadlineWithStuckProbe(t *testing.T) {
	bin := fakeBin(t)
	// Best of three: a loaded CI machine can delay one wake-up, but a
	// process that waits for the probe would miss the bound every time.
	best := time.Hour
	for range 3 {
		start := time.Now()
		out, err := exec.Command(bin, "--mode", "stuck", "-t", "0.2", "--timeout-state", "warning", "127.0.0.1").Output()
		best = min(best, time.Since(start))
		if code := proctest.ExitCode(t, err); code != 1 || !strings.HasPrefix(string(out), "FAKE WARNING - no verdict within 200.0 ms") {
			t.Errorf("exit %d %q", code, out)
		}
	}
	if best > 300*time.Millisecond {
		t.Errorf("verdict after %v at best, want within 0.2 s + 100 ms", best)
	}
}

// TestStdoutFull: a caller that never reads its pipe cannot hold the check
// past its deadline, and the exit code is still the verdict's.
func TestStdoutFull(t *testing.T) {
	bin := fakeBin(t)
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"verdict known", []string{"--mode", "slow"}, 0},
		{"deadline", []string{"--mode", "wait"}, 2},
		{"stuck probe", []string{"--mode", "stuck"}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proctest.StdoutFull(t, tt.code, bin, append(tt.args, "-t", "0.5", "127.0.0.1")...)
		})
	}
}

// TestStdoutClosedEarly: a reader that went away (check_x | head -c0) ends
// the check quietly with its verdict's exit code, not SIGPIPE's 141.
func TestStdoutClosedEarly(t *testing.T) {
	bin := fakeBin(t)
	for _, tt := range []struct {
		args []string
		code int
	}{{[]string{"--mode", "slow"}, 0}, {[]string{"--mode", "wait", "-t", "0.2"}, 2}} {
		if code := proctest.StdoutClosed(t, bin, append(tt.args, "127.0.0.1")...); code != tt.code {
			t.Errorf("%v: exit %d, want %d", tt.args, code, tt.code)
		}
	}
}

// TestSignals: SIGTERM, SIGINT and SIGHUP all end the run with a verdict
// that names the signal.
func TestSignals(t *testing.T) {
	bin := fakeBin(t)
	for _, tt := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGTERM, "terminated"}, {syscall.SIGINT, "interrupt"}, {syscall.SIGHUP, "hangup"}} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, took := proctest.Signal(t, tt.sig, bin, "--mode", "wait", "-t", "10", "127.0.0.1")
			if code != 2 || !strings.HasPrefix(out, "FAKE CRITICAL - waiting for the peer: timed out") ||
				!strings.Contains(out, "(interrupted by "+tt.name+")") || took > time.Second {
				t.Errorf("exit %d after %v: %q", code, took, out)
			}
		})
	}
}

func TestStatStartTime(t *testing.T) {
	for _, tt := range []struct {
		name string
		stat string
		want uint64
		ok   bool
	}{
		{"plain", "1234 (check_x) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 100 0\n", 98765, true},
		{"name with spaces and parentheses", "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 555 1000\n", 555, true},
		{"cut short", "1234 (check_x) S 1 1234", 0, false},
		{"no name", "garbage", 0, false},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 soon 1\n", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := statStartTime([]byte(tt.stat))
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestStartedIsThisProcess: the start time read back for this (long
// running) test process is in the past, and not in the future for a
// process that just began.
func TestStartedIsThisProcess(t *testing.T) {
	time.Sleep(30 * time.Millisecond) // older than the 10 ms tick for sure
	var p process
	got, ok := p.started()
	now := time.Now()
	if !ok || !got.Before(now) {
		t.Errorf("started %v, not before now %v, though the test binary has run a while", got, now)
	}
	if now.Sub(got) > time.Hour {
		t.Errorf("started %v before now: absurd", now.Sub(got))
	}
}

// TestLargeTimerSlack: a caller's large timer slack (Icinga 2 runs its
// plugins with 50 ms) once made every wait end 50 ms late, after the
// watchdog's grace, which then printed "no verdict" over the run's own
// timeout verdict. The check brings the slack back down.
func TestLargeTimerSlack(t *testing.T) {
	bin := fakeBin(t)
	// Slack is per thread and inherited at fork: set it on the thread
	// that starts the child.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	old, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, 50_000_000, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(old), 0, 0, 0)
	for range 3 {
		start := time.Now()
		out, err := exec.Command(bin, "--mode", "wait", "-t", "0.3", "127.0.0.1").Output()
		took := time.Since(start)
		if code := proctest.ExitCode(t, err); code != 2 || !strings.HasPrefix(string(out), "FAKE CRITICAL - waiting for the peer: timed out") {
			t.Errorf("exit %d after %v: %q; want the run's own timeout verdict", code, took, out)
		}
	}
}
