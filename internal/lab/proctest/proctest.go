// Package proctest holds what the process tests of every cmd package
// share: the binary built once, its exit code read back, a run with fds
// 0-2 closed as HAProxy runs checks, and the rule that a check never
// forks. Each check's own cases stay in its package.
package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is the command in the test's package directory, built once.
type Binary struct {
	Name string   // file name: "check_dns_answer"
	Env  []string // added to the build's environment: "CGO_ENABLED=0"

	once sync.Once
	path string
	err  error
}

// Path builds the binary into dir on first use and returns its path.
func (b *Binary) Path(t testing.TB, dir string) string {
	t.Helper()
	b.once.Do(func() {
		b.path = filepath.Join(dir, b.Name)
		cmd := exec.Command("go", "build", "-trimpath", "-o", b.path, ".")
		cmd.Env = append(os.Environ(), b.Env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// ExitCode is the exit code behind err from exec; a failure to run at all
// fails the test.
func ExitCode(t testing.TB, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// ClosedStdio runs bin with fds 0-2 closed, as HAProxy in daemon mode runs
// external checks, and returns the exit code: no socket may land on fd 1
// and receive the output, and writing nowhere must not crash the check.
func ClosedStdio(t testing.TB, bin string, args ...string) int {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", `exec "$0" "$@" <&- >&- 2>&-`, bin}, args...)...)
	return ExitCode(t, cmd.Run())
}

// NoSpawning fails if the package in the current directory links a way to
// start processes: callers kill only the check's own process (HAProxy
// signals its direct child only), so a check must never fork.
func NoSpawning(t testing.TB) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "os/exec" || dep == "plugin" {
			t.Errorf("the binary links %s", dep)
		}
	}
}

// Terminate starts bin against a peer that never answers, sends SIGTERM
// after 300 ms (keepalived's misc_timeout, HAProxy's check timeout) and
// returns the exit code, the output and how long the exit took after the
// signal. The check must answer at once instead of dying mute.
func Terminate(t testing.TB, bin string, args ...string) (code int, out string, took time.Duration) {
	t.Helper()
	var stdout bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	code = ExitCode(t, cmd.Wait())
	return code, stdout.String(), time.Since(sent)
}

// Deadline runs bin (whose args hold -t 0.5 against a peer that never
// answers) three times and fails unless it exits with want, and within
// 0.5 s + 100 ms at best: one late wake-up on a loaded machine is not
// taken for a broken deadline.
func Deadline(t testing.TB, want int, bin string, args ...string) {
	t.Helper()
	best := time.Hour
	for range 3 {
		start := time.Now()
		err := exec.Command(bin, args...).Run()
		best = min(best, time.Since(start))
		if code := ExitCode(t, err); code != want {
			t.Errorf("exit %d, want %d", code, want)
		}
	}
	if best > 600*time.Millisecond {
		t.Errorf("process took %v at best, want within 0.5 s + 100 ms", best)
	}
}

// Run calls a command's run function in process, as a caller would call
// the binary, and returns the exit code and stdout; stderr goes to the
// test log.
func Run(t testing.TB, run func(context.Context, []string, io.Writer, io.Writer) int, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return code, stdout.String()
}

// HostPort is a as the two arguments HOST PORT.
func HostPort(a netip.AddrPort) []string {
	return []string{a.Addr().String(), strconv.Itoa(int(a.Port()))}
}

// ExitStyleBinary checks, on the real process, what keepalived's
// MISC_CHECK with misc_dynamic relies on: it reads exit 1 as down but
// 2..255 as up (weight code-2), so with --exit-style binary every verdict
// but OK must exit 1. label is the check's first word ("FTP_NOOP"), silent
// the arguments that aim it at a peer that never answers. Covered: the
// SIGTERM of misc_timeout, the deadline, and bad usage.
func ExitStyleBinary(t *testing.T, bin, label string, silent ...string) {
	binary := []string{"--exit-style", "binary"}
	t.Run("SIGTERM", func(t *testing.T) {
		code, out, took := Terminate(t, bin, append(append(binary, "-t", "10"), silent...)...)
		if code != 1 || !strings.HasPrefix(out, label+" CRITICAL - ") || !strings.Contains(out, "interrupted by terminated") || took > time.Second {
			t.Errorf("exit %d after %v: %q; want 1 and a CRITICAL verdict at once", code, took, out)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		Deadline(t, 1, bin, append(append(binary, "-t", "0.5"), silent...)...)
	})
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"unknown option", []string{"--no-such-option", "127.0.0.1", "1"}},
		{"bad port", []string{"127.0.0.1", "65536"}},
		{"no host", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(bin, append(binary, tt.args...)...).Output()
			if code := ExitCode(t, err); code != 1 || !strings.HasPrefix(string(out), label+" UNKNOWN - ") {
				t.Errorf("exit %d: %q; want 1 and an UNKNOWN verdict", code, out)
			}
		})
	}
}
