package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/lab/netns"
	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// These tests run the built binary, as release builds are made
// (CGO_ENABLED=0: only then can Go drop capabilities on every thread).

// built is the binary under test; buildBinary builds it once into
// proctest.Dir.
var built = proctest.Binary{Name: "check_tcp_half_open", Env: []string{"CGO_ENABLED=0"}}

func buildBinary(t *testing.T) string {
	bin := built.Build(t)
	os.Chmod(proctest.Dir(), 0o755) // nobody must reach it for the privilege tests
	return bin
}

func exitCode(t *testing.T, err error) int { return proctest.ExitCode(t, err) }

var capsLine = regexp.MustCompile(`capabilities dropped on (\d+) threads: (.*)`)

// assertDropped reads the -vv trace line in which the binary reports every
// thread's capabilities, as /proc shows them after the drop.
func assertDropped(t *testing.T, out string) {
	t.Helper()
	m := capsLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no capability report in:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	zero := strings.Count(m[2], "CapEff=0000000000000000 CapPrm=0000000000000000")
	if n < 1 || zero != n {
		t.Errorf("%d threads, %d with no capability left: %s", n, zero, m[2])
	}
}

func TestCapabilitiesDropped(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, append([]string{"-vv"}, hp(open4)...)...).Output()
	if code := exitCode(t, err); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	assertDropped(t, string(out))
}

// Without CAP_NET_RAW: UNKNOWN, with the exact command that fixes it.
func TestNoPrivilege(t *testing.T) {
	bin := buildBinary(t)
	// An empty bounding set leaves even root without capabilities after exec.
	args := []string{"--bounding-set=-all", "--inh-caps=-all"}
	if netns.RealRoot() {
		args = append(args, "--reuid=65534", "--regid=65534", "--clear-groups")
	}
	out, err := exec.Command("setpriv", append(append(args, bin), hp(open4)...)...).Output()
	want := "TCP_HALF_OPEN UNKNOWN - raw sockets need CAP_NET_RAW: run 'setcap cap_net_raw+ep " + bin + "' as root, or run as root\n"
	if code := exitCode(t, err); code != 3 || string(out) != want {
		t.Errorf("exit %d\n got %q\nwant %q", code, out, want)
	}
}

// What the package installs: the file capability, for the nagios or
// keepalived_script user. Only root can set it and switch to nobody.
func TestFileCapabilityAsNobody(t *testing.T) {
	if !netns.RealRoot() {
		t.Skip("needs root on the host: setcap and a switch to nobody")
	}
	bin := buildBinary(t)
	capped := filepath.Join(proctest.Dir(), "capped")
	data, err := os.ReadFile(bin)
	if err == nil {
		err = os.WriteFile(capped, data, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("setcap", "cap_net_raw+ep", capped).CombinedOutput(); err != nil {
		t.Fatalf("setcap: %v: %s", err, out)
	}
	out, err := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", capped, "-vv"}, hp(open4)...)...).Output()
	if code := exitCode(t, err); code != 0 || !strings.HasPrefix(string(out), "TCP_HALF_OPEN OK - port open") {
		t.Fatalf("as nobody with cap_net_raw+ep: exit %d: %s", code, out)
	}
	assertDropped(t, string(out))
}

// TestProcess: what HAProxy, keepalived and Farmguardian rely on, on the
// real process, in both exit styles (see proctest.Check). Silent is a port
// that drops every SYN.
func TestProcess(t *testing.T) {
	proctest.Check{
		Bin: buildBinary(t), Label: "TCP_HALF_OPEN",
		Up: hp(open4), Down: hp(closed4),
		Silent: []string{"127.0.0.1", strconv.Itoa(dropped)}, SilentSays: "no answer (filtered?)",
		Deadline: []string{"--attempts", "2"},
	}.Test(t)
}
