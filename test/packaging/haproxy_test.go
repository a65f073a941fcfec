package packaging

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// wrapperBinRE finds the binary a HAProxy wrapper runs: the one beside it.
var wrapperBinRE = regexp.MustCompile(`(?m)^bin=\$\{0%/\*\}/(check_[a-z_]+)$`)

// haproxyWrappers lists packaging/haproxy/lbcheck-* and the check each runs.
func haproxyWrappers(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob("../../packaging/haproxy/lbcheck-*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no HAProxy wrappers found: %v", err)
	}
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m := wrapperBinRE.FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s: no bin=${0%%/*}/check_… line", p)
		}
		out[p] = string(m[1])
	}
	return out
}

// runWrapper runs a copy of the wrapper beside bin as HAProxy would: an
// empty environment (so no PATH) and the four external-check arguments.
func runWrapper(t *testing.T, wrapper, check string, bin []byte, args ...string) (*exec.Cmd, string, error) {
	t.Helper()
	dir := t.TempDir()
	w, err := os.ReadFile(wrapper)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, filepath.Base(wrapper))
	if err := os.WriteFile(copyPath, w, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, check), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(copyPath, args...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	out, err := cmd.Output()
	return cmd, string(out), err
}

// TestHAProxyWrappersExec: each wrapper replaces itself with its check
// (same pid), so HAProxy's SIGTERM after `inter` reaches the check and no
// shell is left waiting; it needs no PATH, and passes HAProxy's four
// arguments on unchanged, last.
func TestHAProxyWrappersExec(t *testing.T) {
	haArgs := []string{"NOT_USED", "NOT_USED", "192.0.2.7", "8443"}
	for wrapper, check := range haproxyWrappers(t) {
		t.Run(filepath.Base(wrapper), func(t *testing.T) {
			// The stand-in prints its pid and argv with shell built-ins only.
			fake := []byte("#!/bin/sh\necho \"$$\" \"$@\"\n")
			cmd, out, err := runWrapper(t, wrapper, check, fake, haArgs...)
			if err != nil {
				t.Fatalf("wrapper failed: %v\n%s", err, out)
			}
			fields := strings.Fields(out)
			if len(fields) < 1+len(haArgs) {
				t.Fatalf("the check got too few arguments: %q", out)
			}
			if pid := strconv.Itoa(cmd.Process.Pid); fields[0] != pid {
				t.Errorf("the check ran as pid %s, the wrapper as %s: it forked instead of exec", fields[0], pid)
			}
			if got := fields[len(fields)-len(haArgs):]; strings.Join(got, " ") != strings.Join(haArgs, " ") {
				t.Errorf("HAProxy's arguments arrived as %q, want %q last", got, haArgs)
			}
		})
	}
}

// TestHAProxyWrappersOptionsParse: the options each wrapper adds are ones
// its real check parses. Pointed at a closed loopback port, the check must
// say CRITICAL; a bad option would make it UNKNOWN.
func TestHAProxyWrappersOptionsParse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // nothing listens there now: TCP is refused, UDP gets ICMP
	for wrapper, check := range haproxyWrappers(t) {
		t.Run(filepath.Base(wrapper), func(t *testing.T) {
			bin, err := os.ReadFile(filepath.Join(binDir, check))
			if err != nil {
				t.Fatal(err)
			}
			_, out, err := runWrapper(t, wrapper, check, bin, "NOT_USED", "NOT_USED", "127.0.0.1", port)
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 || !regexp.MustCompile(`^[A-Z_]+ CRITICAL - `).MatchString(out) {
				t.Errorf("%s against a closed port: %v, want CRITICAL (exit 2):\n%s", check, err, out)
			}
		})
	}
}
