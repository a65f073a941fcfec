// Package proctest holds what the process tests of every cmd package
// share: the binary built once, its exit code read back, and Check, the
// table of what every caller relies on (closed fds, SIGTERM, the deadline,
// no fork, both exit styles). Each check's own cases stay in its package.
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
	"slices"
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
	Pkg  string   // the package to build; "." (the test's own) if empty

	once sync.Once
	path string
	err  error
}

// Path builds the binary into dir on first use and returns its path.
func (b *Binary) Path(t testing.TB, dir string) string {
	t.Helper()
	b.once.Do(func() {
		b.path = filepath.Join(dir, b.Name)
		pkg := b.Pkg
		if pkg == "" {
			pkg = "."
		}
		cmd := exec.Command("go", "build", "-trimpath", "-o", b.path, pkg)
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
	return Signal(t, syscall.SIGTERM, bin, args...)
}

// Signal is Terminate with another signal: SIGINT (a person's ^C), SIGHUP
// (a closed terminal).
func Signal(t testing.TB, sig syscall.Signal, bin string, args ...string) (code int, out string, took time.Duration) {
	t.Helper()
	var stdout bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	sent := time.Now()
	cmd.Process.Signal(sig)
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

// Check is what the process tests every binary shares need to know about
// one check. Each field holds arguments (options and HOST PORT).
type Check struct {
	Bin   string // the built binary
	Label string // the first word of its output: "FTP_NOOP"
	Up    []string
	Down  []string // a CRITICAL verdict
	// Silent aims the check at a peer that never answers; SilentSays is
	// text the verdict must then contain besides "interrupted by
	// terminated", if any.
	Silent     []string
	SilentSays string
	// Deadline is added to "-t 0.5" and Silent for the deadline runs:
	// "--attempts 3", so the deadline must hold across attempts.
	Deadline []string
}

// Test runs, on the real process, what the callers rely on: a right
// verdict with fds 0-2 closed (HAProxy), a verdict at once on SIGTERM
// (keepalived's misc_timeout, HAProxy's check timeout), the process gone
// by its deadline, no way to fork, and all of it again in the binary exit
// style keepalived's misc_dynamic needs.
func (c Check) Test(t *testing.T) {
	t.Run("closed stdio", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			code int
		}{{c.Up, 0}, {c.Down, 2}, {[]string{"127.0.0.1", "0"}, 3}} {
			if got := ClosedStdio(t, c.Bin, tt.args...); got != tt.code {
				t.Errorf("%v with fds 0-2 closed: exit %d, want %d", tt.args, got, tt.code)
			}
		}
	})
	for _, style := range []struct {
		name     string
		args     []string
		critical int
	}{{"nagios", nil, 2}, {"binary", []string{"--exit-style", "binary"}, 1}} {
		t.Run(style.name+" style", func(t *testing.T) {
			opts := func(more ...string) []string { return append(append(slices.Clone(style.args), more...), c.Silent...) }
			t.Run("SIGTERM", func(t *testing.T) {
				code, out, took := Terminate(t, c.Bin, opts("-t", "10")...)
				if code != style.critical || !strings.HasPrefix(out, c.Label+" CRITICAL - ") ||
					!strings.Contains(out, "interrupted by terminated") || !strings.Contains(out, c.SilentSays) || took > time.Second {
					t.Errorf("exit %d after %v: %q; want %d and a CRITICAL verdict at once", code, took, out, style.critical)
				}
			})
			t.Run("deadline", func(t *testing.T) {
				Deadline(t, style.critical, c.Bin, opts(append([]string{"-t", "0.5"}, c.Deadline...)...)...)
			})
			if style.critical == 2 {
				return // usage errors in the Nagios style: the cmd tables
			}
			// misc_dynamic reads 2..255 as up (weight code-2): UNKNOWN too
			// must exit 1.
			for _, tt := range []struct {
				name string
				args []string
			}{
				{"unknown option", []string{"--no-such-option", "127.0.0.1", "1"}},
				{"bad port", []string{"127.0.0.1", "65536"}},
				{"no host", nil},
			} {
				t.Run(tt.name, func(t *testing.T) {
					out, err := exec.Command(c.Bin, append(slices.Clone(style.args), tt.args...)...).Output()
					if code := ExitCode(t, err); code != 1 || !strings.HasPrefix(string(out), c.Label+" UNKNOWN - ") {
						t.Errorf("exit %d: %q; want 1 and an UNKNOWN verdict", code, out)
					}
				})
			}
		})
	}
	t.Run("no spawning", func(t *testing.T) { NoSpawning(t) })
}
