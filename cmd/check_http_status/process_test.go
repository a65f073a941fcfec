package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// These tests run the built binary as the callers do, for what only a
// real process shows: file descriptors, signals, and the exit itself.

// built is the binary under test, built as it ships (static, no cgo);
// buildBinary builds it once into proctest.Dir.
var built = proctest.Binary{Name: "check_http_status", Env: []string{"CGO_ENABLED=0"}, Beside: []string{"../lbcheck"}}

func buildBinary(t *testing.T) string {
	return built.Build(t)
}

// TestProcess: what HAProxy, keepalived and Farmguardian rely on, on the
// real process, in both exit styles (see proctest.Check).
func TestProcess(t *testing.T) {
	proctest.Check{
		Bin: buildBinary(t), Label: "HTTP_STATUS",
		Up: hp(theLab.HTTP), Down: hp(theLab.Closed),
		Silent:   hp(theLab.Silent),
		Deadline: []string{"--attempts", "3"},
	}.Test(t)
}

// TestPeakMemory: the process stays under 10 MiB resident whatever the
// peer sends (issue 13, item 11). One-byte chunks and endless trailers
// once cost an allocation per line: 11.5 to 13.6 MiB at the peak.
func TestPeakMemory(t *testing.T) {
	const limit = 10 << 20
	bin := buildBinary(t)
	l := theLab
	tests := []struct {
		name string
		args []string
		code int
		line string
	}{
		{"one-byte chunks, regex", append([]string{"--body-regex", "never"}, hp(l.Chunks)...), 2,
			`^HTTP_STATUS CRITICAL - 200 OK from .*, body does not match "never" in its first 1048576 B \(--max-body\) \|`},
		{"one-byte chunks, digest", append([]string{"--digest", md5hex("")}, hp(l.Chunks)...), 2, `longer than --max-body 1048576 B`},
		{"one-byte chunks, size", hp(l.Chunks), 0, `^HTTP_STATUS OK - 200 OK from .*, over 1048576 B in`},
		{"endless trailers, regex", append([]string{"--body-regex", "x"}, hp(l.Trailers)...), 2, `chunked trailers longer than 64 KiB, our limit`},
		{"endless trailers", hp(l.Trailers), 2, `reading body after 1 B: chunked trailers longer than 64 KiB, our limit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code, rss := runMeasured(t, bin, append([]string{"-t", "20"}, tt.args...)...)
			first, _, _ := strings.Cut(out, "\n")
			if code != tt.code || !regexp.MustCompile(tt.line).MatchString(first) {
				t.Errorf("exit %d, want %d; first line\n  %s\nwant it to match\n  %s", code, tt.code, first, tt.line)
			}
			if rss >= limit {
				t.Errorf("peak RSS %.1f MiB, want under %d MiB", float64(rss)/(1<<20), limit>>20)
			}
			t.Logf("peak RSS %.1f MiB", float64(rss)/(1<<20))
		})
	}
}

// runMeasured runs bin and returns its output, exit code and peak RSS in
// bytes. A child's peak as wait4 reports it includes the memory of the
// process it was forked from (Go starts children with vfork, so that is
// this whole test binary), so bin is forked by /bin/sh instead, in the
// background; sh exits at once, and as a child subreaper this process
// inherits bin and reaps it.
func runMeasured(t *testing.T, bin string, args ...string) (string, int, int64) {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("prctl PR_SET_CHILD_SUBREAPER: %v", err)
	}
	outFile := filepath.Join(t.TempDir(), "out")
	sh := exec.Command("/bin/sh", append([]string{"-c", `"$@" >"$OUT" 2>/dev/null </dev/null & echo $!`, "sh", bin}, args...)...)
	sh.Env = append(os.Environ(), "OUT="+outFile)
	pidText, err := sh.Output()
	if err != nil {
		t.Fatalf("/bin/sh: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatalf("/bin/sh printed %q, not a pid", pidText)
	}
	// A hang is a failure, not a test that never ends.
	timer := time.AfterFunc(30*time.Second, func() { syscall.Kill(pid, syscall.SIGKILL) })
	defer timer.Stop()
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		if _, err = syscall.Wait4(pid, &ws, 0, &ru); err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		t.Fatalf("wait4 %d: %v", pid, err)
	}
	if !ws.Exited() {
		t.Fatalf("%s: %v", bin, ws)
	}
	out, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), ws.ExitStatus(), ru.Maxrss << 10 // KiB on Linux
}

// TestCAFileNeverHangs: --ca-file is read before the deadline starts. A
// FIFO used to block the process for good (neither -t nor SIGTERM ended
// it) and /dev/zero to grow it until Go died without a verdict (issue 13,
// item 9). Anything but a regular file is a bad argument, at once.
func TestCAFileNeverHangs(t *testing.T) {
	bin := buildBinary(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, file, kind string }{
		{"fifo", fifo, "a named pipe"},
		{"dev zero", "/dev/zero", "a character device"},
		{"directory", "/", "a directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Under a 2 GiB address-space limit, so that a regression
			// reading /dev/zero dies there, not with the machine's memory.
			cmd := exec.Command("/bin/sh", append([]string{"-c", `ulimit -v 2097152 && exec "$0" "$@"`, bin,
				"-t", "1", "--tls", "--ca-file", tt.file}, hp(theLab.HTTPS)...)...)
			var out strings.Builder
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// A hang is what is tested: the caller's kill comes late.
			timer := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
			code := proctest.ExitCode(t, cmd.Wait())
			if !timer.Stop() {
				t.Fatalf("still running after 10 s with -t 1: killed; output %q", out.String())
			}
			want := "HTTP_STATUS UNKNOWN - bad argument: --ca-file " + tt.file + ": not a regular file but " + tt.kind + "; want a PEM file"
			if code != 3 || !strings.HasPrefix(out.String(), want) || strings.Count(out.String(), "\n") != 1 {
				t.Errorf("exit %d, output %q; want 3 and one line starting %q", code, out.String(), want)
			}
		})
	}
}

// TestHandOver: a command line that needs a part the binary leaves out
// (TLS, a regular expression, MD5) is run by lbcheck from the same
// directory, in the same process: the caller still has one process, the
// one it signals, and one verdict. Without lbcheck beside it, the check is
// UNKNOWN (it could not check), never CRITICAL.
func TestHandOver(t *testing.T) {
	bin := buildBinary(t)
	l := theLab
	for _, tt := range []struct {
		name string
		args []string
		line string
	}{
		{"tls", append([]string{"--tls"}, hp(l.HTTPS)...), `^HTTP_STATUS OK - 200 OK from `},
		{"body regex", append([]string{"--body-regex", "lab"}, hp(l.HTTP)...), `^HTTP_STATUS OK - 200 OK from `},
		{"digest", append([]string{"--digest", md5hex("nope")}, hp(l.HTTP)...), `^HTTP_STATUS CRITICAL - 200 OK from .*, body MD5 `},
		{"bad usage first", []string{"--tls", "--expect", "abc", "127.0.0.1"}, `^HTTP_STATUS UNKNOWN - bad argument: --expect`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := exec.Command(bin, tt.args...).Output()
			if !regexp.MustCompile(tt.line).Match(out) {
				t.Errorf("%q, want %s", out, tt.line)
			}
		})
	}

	t.Run("same process", func(t *testing.T) {
		proctest.HandedOver(t, "lbcheck", bin, append([]string{"--tls", "-t", "10"}, hp(l.Silent)...)...)
	})

	t.Run("no lbcheck beside it", func(t *testing.T) {
		alone := proctest.Alone(t, bin)
		out, err := exec.Command(alone, append([]string{"--tls"}, hp(l.HTTPS)...)...).Output()
		if code := proctest.ExitCode(t, err); code != 3 || !strings.HasPrefix(string(out), "HTTP_STATUS UNKNOWN - --tls needs lbcheck beside check_http_status") {
			t.Errorf("exit %d, %q", code, out)
		}
	})
}
