package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/lab/netns"
	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// These tests run the built binary as the packages install it (file
// capability cap_net_raw+ep) for a caller without privilege: they need
// the host's root, to set the capability and switch users.

// nobody is the unprivileged caller.
const nobody = "65534"

// privileged copies the built binary to name in proctest.Dir() and gives it mode
// and, if capable, the file capability the packages set.
func privileged(t *testing.T, name string, mode os.FileMode, capable bool) string {
	t.Helper()
	if !netns.RealRoot() {
		t.Skip("needs root on the host: setcap, chown and a switch to nobody")
	}
	bin := buildBinary(t)
	dst := filepath.Join(proctest.Dir(), name)
	data, err := os.ReadFile(bin)
	if err == nil {
		err = os.WriteFile(dst, data, 0o755)
	}
	if err == nil && mode&os.ModeSetgid != 0 {
		err = os.Chown(dst, 0, 65534)
	}
	if err == nil {
		// After the chown, which clears the set-id bits.
		err = os.Chmod(dst, mode)
	}
	if err != nil {
		t.Fatal(err)
	}
	if capable {
		if out, err := exec.Command("setcap", "cap_net_raw+ep", dst).CombinedOutput(); err != nil {
			t.Fatalf("setcap: %v: %s", err, out)
		}
	}
	return dst
}

// as runs bin with args and env as uid (nobody, or "" for root, who
// needs no setpriv) and returns its exit code and stdout.
func as(t *testing.T, uid string, env []string, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if uid != "" {
		cmd = exec.Command("setpriv", append([]string{"--reuid=" + uid, "--regid=" + uid, "--clear-groups", bin}, args...)...)
	}
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	return exitCode(t, err), string(out)
}

// synCounter counts every SYN to port counted, marked or not: a refused
// mark must send nothing at all. Its own table, removed after the test.
func synCounter(t *testing.T) func() int {
	t.Helper()
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(fmt.Sprintf(`
table inet lbcpriv {
	counter syns {}
	chain output { type filter hook output priority 0; tcp dport %d tcp flags == syn counter name syns; }
}`, counted))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("nft", "delete", "table", "inet", "lbcpriv").Run() })
	return func() int {
		out, err := exec.Command("nft", "list", "counter", "inet", "lbcpriv", "syns").CombinedOutput()
		if err != nil {
			t.Fatalf("nft: %v: %s", err, out)
		}
		m := regexp.MustCompile(`packets (\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("no counter in %q", out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
}

// TestMarkWithFileCapability: the capability the packages give the binary
// is for its raw socket. A caller that is not root cannot use it to put a
// firewall mark on packets (SO_MARK accepts CAP_NET_RAW since Linux 5.17):
// one UNKNOWN line, in the form asked for, and no packet at all. Root's
// mark still applies, also where the exec is AT_SECURE (a setgid copy);
// the setgid copy run by nobody shows that the refusal comes from
// AT_SECURE, not from the capability as such.
func TestMarkWithFileCapability(t *testing.T) {
	capped := privileged(t, "capped-mark", 0o755, true)
	setgid := privileged(t, "setgid-mark", 0o755|os.ModeSetgid, true)
	syns := synCounter(t)
	target := []string{"127.0.0.1", strconv.Itoa(counted)}
	refused := `^TCP_HALF_OPEN UNKNOWN - %s 0x2a refused: check_tcp_half_open runs with privilege \(file capability or setuid\) that its caller, uid 65534, lacks; a mark needs root .*CAP_NET_ADMIN`
	for _, tc := range []struct {
		name         string
		bin          string
		uid          string
		env          []string
		args         []string
		code         int
		line         string // regexp for the first line
		syns, marked int    // packets counted
	}{
		{"nobody --mark", capped, nobody, nil, []string{"--mark", "0x2a"}, 3, fmt.Sprintf(refused, "--mark"), 0, 0},
		{"nobody MARK", capped, nobody, []string{"MARK=42"}, nil, 3, fmt.Sprintf(refused, "MARK"), 0, 0},
		{"nobody --mark, binary exit style", capped, nobody, nil, []string{"--exit-style", "binary", "--mark", "42"}, 1, fmt.Sprintf(refused, "--mark"), 0, 0},
		{"nobody MARK, json", capped, nobody, []string{"MARK=0x2a"}, []string{"--format", "json"}, 3, `^\{"check":"TCP_HALF_OPEN","state":"UNKNOWN".*"summary":"MARK 0x2a refused: `, 0, 0},
		{"nobody, no mark", capped, nobody, nil, nil, 0, `^TCP_HALF_OPEN OK - port open \(SYN\+ACK\) on 127\.0\.0\.1:1084`, 1, 0},
		{"nobody, mark 0 sets nothing", capped, nobody, []string{"MARK=0"}, nil, 0, `^TCP_HALF_OPEN OK - port open`, 1, 0},
		{"nobody --bind not of this host", capped, nobody, nil, []string{"-b", "10.255.0.1"}, 3, `^TCP_HALF_OPEN UNKNOWN - raw socket: socket setup: bind 10\.255\.0\.1`, 0, 0},
		{"root --mark", capped, "", nil, []string{"--mark", "0x2a"}, 0, `^TCP_HALF_OPEN OK - port open`, 1, 1},
		{"root MARK", capped, "", []string{"MARK=42"}, nil, 0, `^TCP_HALF_OPEN OK - port open`, 1, 1},
		{"nobody --mark, setgid copy", setgid, nobody, nil, []string{"--mark", "0x2a"}, 3, fmt.Sprintf(refused, "--mark"), 0, 0},
		{"root --mark, setgid copy (AT_SECURE)", setgid, "", nil, []string{"--mark", "0x2a"}, 0, `^TCP_HALF_OPEN OK - port open`, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s0, m0 := syns(), marked(t)
			code, out := as(t, tc.uid, tc.env, tc.bin, append(tc.args, target...)...)
			first, _, _ := strings.Cut(out, "\n")
			if code != tc.code || !regexp.MustCompile(tc.line).MatchString(first) {
				t.Errorf("exit %d, want %d\n got %q\nwant %s", code, tc.code, first, tc.line)
			}
			if s, m := syns()-s0, marked(t)-m0; s != tc.syns || m != tc.marked {
				t.Errorf("%d SYNs, %d with mark 0x2a; want %d and %d", s, m, tc.syns, tc.marked)
			}
		})
	}
}

// TestRuntimeSecureMode: Go's runtime acts on AT_SECURE too. It forces
// GOTRACEBACK=none, and a fatal signal then prints only its name and
// exits 2: no stack, no goroutine dump, no core, whatever GOTRACEBACK the
// caller set. And the process is non-dumpable (privilege.Seal: the kernel
// does it for setuid, not for a file capability): its /proc files belong
// to root. The same binary without the capability, run by root for
// comparison, prints every goroutine.
func TestRuntimeSecureMode(t *testing.T) {
	capped := privileged(t, "capped-quit", 0o755, true)
	plain := privileged(t, "plain-quit", 0o755, false)
	// What a dumpable process of nobody's looks like: its /proc is nobody's.
	sleep := exec.Command("setpriv", "--reuid="+nobody, "--regid="+nobody, "--clear-groups", "sleep", "5")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	fi, err := os.Stat(fmt.Sprintf("/proc/%d/fd", sleep.Process.Pid))
	sleep.Process.Kill()
	sleep.Wait()
	if err != nil || fi.Sys().(*syscall.Stat_t).Uid != 65534 {
		t.Fatalf("nobody's sleep: /proc/PID/fd %v, %v: the comparison below would mean nothing", fi, err)
	}
	for _, tc := range []struct {
		name, bin, uid, traceback string
		code                      int
		dump                      bool // goroutines on stderr
	}{
		{"capability, nobody, GOTRACEBACK=crash", capped, nobody, "crash", 2, false},
		{"capability, nobody, GOTRACEBACK=all", capped, nobody, "all", 2, false},
		{"no capability, root, GOTRACEBACK=all", plain, "", "all", 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-t", "5", "127.0.0.1", strconv.Itoa(dropped)}
			cmd := exec.Command(tc.bin, args...)
			if tc.uid != "" {
				cmd = exec.Command("setpriv", append([]string{"--reuid=" + tc.uid, "--regid=" + tc.uid, "--clear-groups", tc.bin}, args...)...)
			}
			cmd.Env = append(os.Environ(), "GOTRACEBACK="+tc.traceback)
			cmd.Dir = t.TempDir() // where a core would go
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // setpriv has exec'd; the SYN is out
			fi, err := os.Stat(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
			if err != nil {
				cmd.Process.Kill()
				t.Fatal(err)
			}
			cmd.Process.Signal(syscall.SIGQUIT)
			err = cmd.Wait()
			if owner := fi.Sys().(*syscall.Stat_t).Uid; owner != 0 {
				t.Errorf("/proc/PID/fd belongs to uid %d, not root: the process is dumpable", owner)
			}
			if code := exitCode(t, err); code != tc.code {
				t.Errorf("exit %d, want %d (%v)", code, tc.code, err)
			}
			if dump := strings.Contains(stderr.String(), "goroutine "); dump != tc.dump {
				t.Errorf("goroutine dump %v, want %v; stderr:\n%s", dump, tc.dump, stderr.String())
			}
			if cores, _ := filepath.Glob(filepath.Join(cmd.Dir, "core*")); len(cores) > 0 {
				t.Errorf("core dumped: %v", cores)
			}
		})
	}
}

// steal is what a caller could run against its own process: take each of
// its file descriptors with pidfd_getfd(2), which needs ptrace access.
// perl (perl-base, Essential in Debian) makes the two system calls.
const steal = `
my $pid = 0 + shift; # a number: perl passes a string as a pointer
my $pfd = syscall(434, $pid, 0); # pidfd_open
die "pidfd_open: $!\n" if $pfd < 0;
for my $fd (@ARGV) {
	my $got = syscall(438, $pfd, 0 + $fd, 0); # pidfd_getfd
	print $got < 0 ? "fd $fd: $!\n" : "fd $fd: stolen\n";
}`

// TestRawSocketOutOfReach: once the capabilities are dropped, the caller
// (the same user) must not be able to take the raw socket that is still
// open: with it, it could lift the filter and read every TCP packet the
// host receives, or send what it likes. The probe waits on a port that
// drops SYNs, so the socket is open while nobody tries.
func TestRawSocketOutOfReach(t *testing.T) {
	capped := privileged(t, "capped-steal", 0o755, true)
	cmd := exec.Command("setpriv", "--reuid="+nobody, "--regid="+nobody, "--clear-groups",
		capped, "-vv", "-t", "3", "127.0.0.1", strconv.Itoa(dropped))
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(500 * time.Millisecond) // exec'd, socket open, capabilities dropped
	pid := strconv.Itoa(cmd.Process.Pid)
	entries, err := os.ReadDir("/proc/" + pid + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	var sockets []string
	for _, e := range entries {
		if l, _ := os.Readlink("/proc/" + pid + "/fd/" + e.Name()); strings.HasPrefix(l, "socket:") {
			sockets = append(sockets, e.Name())
		}
	}
	if len(sockets) == 0 {
		t.Fatalf("no socket open in the probing process %s", pid)
	}
	out, err := exec.Command("setpriv", append([]string{"--reuid=" + nobody, "--regid=" + nobody, "--clear-groups",
		"perl", "-e", steal, pid}, sockets...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("perl: %v: %s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != len(sockets) || strings.Contains(string(out), "stolen") {
		t.Errorf("nobody took its own process's sockets %v:\n%s", sockets, out)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !capsLine.MatchString(stdout.String()) && stdout.Len() > 0 {
		t.Logf("trace: %s", stdout.String())
	}
}

// TestMulticastRefused: connect(2) refuses a multicast destination; the
// raw socket would send the SYN to the whole group (and no member
// answers). The capability gives the caller no more than connect(2):
// UNKNOWN, before any packet.
func TestMulticastRefused(t *testing.T) {
	for _, tc := range []struct{ name, host string }{
		{"IPv4 group", "239.1.2.3"},
		{"IPv4 all hosts", "224.0.0.1"},
		{"IPv6 site-local group", "ff05::1"},
		{"IPv4 group, mapped", "::ffff:239.1.2.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := check(t, tc.host, "80")
			if want := regexp.MustCompile(`^TCP_HALF_OPEN UNKNOWN - raw socket: socket setup: \S+ is a multicast address: a half-open check is for one host\n$`); code != 3 || !want.MatchString(out) {
				t.Errorf("exit %d: %q", code, out)
			}
		})
	}
}
