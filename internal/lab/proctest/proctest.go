// Package proctest holds what the tests of every cmd package share:
// their TestMain (Main: the servers they run against, started and
// stopped, and a directory for the binary), the in-process table runners
// (Verdicts, UsageErrors, DeadlineInProcess, HelpAndVersion), the binary
// built once, its exit code read back, and Check, the table of what every
// caller relies on (closed fds, SIGTERM, the deadline, no fork, both exit
// styles). Each check's own cases stay in its package.
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
	"regexp"
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
	// Beside are packages built into the same directory: "../lbcheck",
	// which a check binary execs for the parts it leaves out.
	Beside []string

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
		for _, p := range append([]string{pkg}, b.Beside...) {
			out := b.path
			if p != pkg {
				out = filepath.Join(dir, filepath.Base(p))
			}
			cmd := exec.Command("go", "build", "-trimpath", "-o", out, p)
			cmd.Env = append(os.Environ(), b.Env...)
			if msg, err := cmd.CombinedOutput(); err != nil {
				b.err = fmt.Errorf("go build %s: %v\n%s", p, err, msg)
				return
			}
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
// after a second (keepalived's misc_timeout, HAProxy's check timeout) and
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
	// A check installs its signal handlers 50 ms after it starts (see
	// internal/plugin): a second leaves room for a loaded machine.
	time.Sleep(time.Second)
	sent := time.Now()
	cmd.Process.Signal(sig)
	code = ExitCode(t, cmd.Wait())
	return code, stdout.String(), time.Since(sent)
}

// HandedOver starts bin against a peer that never answers and, a second
// in, reads from /proc which program the process runs: it must be exe,
// from bin's directory ("lbcheck" for a command line the check hands
// over, the check itself otherwise), with no child. Then SIGTERM must
// bring the CRITICAL "interrupted" verdict: the caller's signal reaches
// whatever runs the check.
func HandedOver(t testing.TB, exe, bin string, args ...string) {
	t.Helper()
	var stdout strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	time.Sleep(time.Second) // past the 50 ms before signals are handled, on a loaded machine too
	pid := strconv.Itoa(cmd.Process.Pid)
	got, err := os.Readlink("/proc/" + pid + "/exe")
	if want := filepath.Join(filepath.Dir(bin), exe); err != nil || got != want {
		t.Errorf("the process runs %q (%v), want %s", got, err, want)
	}
	if children, _ := os.ReadFile("/proc/" + pid + "/task/" + pid + "/children"); len(children) > 0 {
		t.Errorf("the check has children: %s", children)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	if code := ExitCode(t, err); code != 2 || !strings.Contains(stdout.String(), "interrupted by terminated") {
		t.Errorf("after SIGTERM: exit %d, %q", code, stdout.String())
	}
}

// Alone copies bin into a directory of its own, without lbcheck beside
// it, and returns the copy's path.
func Alone(t testing.TB, bin string) string {
	t.Helper()
	alone := filepath.Join(t.TempDir(), filepath.Base(bin))
	src, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, src, 0o755); err != nil {
		t.Fatal(err)
	}
	return alone
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

// StdoutClosed runs bin with a stdout whose reader has gone away and
// returns the exit code: a check must not die of SIGPIPE (141).
func StdoutClosed(t testing.TB, bin string, args ...string) int {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout = w
	return ExitCode(t, cmd.Run())
}

// StdoutFull runs bin (whose args hold -t 0.5) with a stdout pipe that is
// full and never read, three times, and fails unless it exits with want,
// within 0.5 s + 100 ms at best: a caller that does not read cannot hold
// the check past its deadline.
func StdoutFull(t testing.TB, want int, bin string, args ...string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	// Fd makes the file blocking, so it is called once.
	fd := int(w.Fd())
	syscall.SetNonblock(fd, true)
	chunk := make([]byte, 4096)
	for {
		if _, err := syscall.Write(fd, chunk); err != nil {
			break
		}
	}
	syscall.SetNonblock(fd, false)
	best := time.Hour
	for range 3 {
		cmd := exec.Command(bin, args...)
		cmd.Stdout = w
		start := time.Now()
		err := cmd.Run()
		best = min(best, time.Since(start))
		if code := ExitCode(t, err); code != want {
			t.Errorf("exit %d with stdout full, want %d", code, want)
		}
	}
	if best > 600*time.Millisecond {
		t.Errorf("exit after %v at best with stdout full, want within 0.5 s + 100 ms", best)
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
	t.Run("stdout closed early", func(t *testing.T) {
		// check_x | head -c0: the verdict's exit code, not SIGPIPE's 141
		if got := StdoutClosed(t, c.Bin, c.Up...); got != 0 {
			t.Errorf("%v with its reader gone: exit %d, want 0", c.Up, got)
		}
	})
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
			for _, sig := range []struct {
				sig  syscall.Signal
				name string
			}{{syscall.SIGTERM, "terminated"}, {syscall.SIGHUP, "hangup"}} {
				t.Run(strings.ToUpper(sig.sig.String()[:1])+sig.sig.String()[1:], func(t *testing.T) {
					code, out, took := Signal(t, sig.sig, c.Bin, opts("-t", "10")...)
					if code != style.critical || !strings.HasPrefix(out, c.Label+" CRITICAL - ") ||
						!strings.Contains(out, "interrupted by "+sig.name) || !strings.Contains(out, c.SilentSays) || took > time.Second {
						t.Errorf("exit %d after %v: %q; want %d and a CRITICAL verdict at once", code, took, out, style.critical)
					}
				})
			}
			t.Run("stdout full", func(t *testing.T) {
				StdoutFull(t, style.critical, c.Bin, opts(append([]string{"-t", "0.5"}, c.Deadline...)...)...)
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

// CAFileNotRegular runs a TLS-capable check in process with --ca-file
// naming what is not a regular file (a FIFO, a device, a directory) and
// fails unless each is one UNKNOWN line at once: --ca-file is read before
// the deadline starts, and a FIFO once blocked the check for good,
// /dev/zero grew it until Go died (issue 13, item 9; /dev/zero is tried
// on the check_http_status binary, under a memory limit). args turn TLS
// on and name the target; label is the check's first word.
func CAFileNotRegular(t *testing.T, run func(context.Context, []string, io.Writer, io.Writer) int, label string, args ...string) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, file, kind string }{
		{"fifo", fifo, "a named pipe"},
		{"device", "/dev/null", "a character device"},
		{"directory", "/", "a directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			type verdict struct {
				code int
				out  string
			}
			done := make(chan verdict, 1)
			go func() {
				var out strings.Builder
				code := run(context.Background(), append([]string{"-t", "1", "--ca-file", tt.file}, args...), &out, io.Discard)
				done <- verdict{code, out.String()}
			}()
			var v verdict
			select {
			case v = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("no verdict after 10 s with -t 1")
			}
			want := label + " UNKNOWN - bad argument: --ca-file " + tt.file + ": not a regular file but " + tt.kind
			if v.code != 3 || !strings.HasPrefix(v.out, want) || strings.Count(v.out, "\n") != 1 {
				t.Errorf("exit %d, output %q; want 3 and one line starting %q", v.code, v.out, want)
			}
		})
	}
}

// sameTime finds the response time a summary states ("in 1.21 ms", "in
// 12.3 ms", "in 1.20 s") and perfdata's time.
var sameTime = regexp.MustCompile(` in (\d+\.\d+) (ms|s)\b.*\| time=(\d+\.\d+)s`)

// SameTime fails unless line states its response time once: the
// summary's "in X" and perfdata's time are one value, rounded as each
// prints it (issue 16 item 4: they once were two measurements).
func SameTime(t testing.TB, line string) {
	t.Helper()
	m := sameTime.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no \"in X ms\" and time= in %q", line)
	}
	said, _ := strconv.ParseFloat(m[1], 64)
	if m[2] == "ms" {
		said /= 1000
	}
	perf, _ := strconv.ParseFloat(m[3], 64)
	// the summary keeps three significant digits
	if diff := said - perf; diff > perf*0.006+1e-5 || diff < -(perf*0.006+1e-5) {
		t.Errorf("summary says %s %s, perfdata time=%ss: two values of one thing in %q", m[1], m[2], m[3], line)
	}
}
