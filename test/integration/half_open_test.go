//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// check_tcp_half_open against the real kernel of lbc-srv: nginx on 80, the
// nft rules of netns.sh (81 drop, 82 ICMP admin-prohibited, 83 TCP reset,
// 84 closed), and servers these tests start themselves on 87 and 88.

var (
	hoOnce sync.Once
	hoBin  string
	hoErr  error
)

// halfOpenBin builds check_tcp_half_open (CGO_ENABLED=0, as released) once.
func halfOpenBin(t *testing.T) string {
	t.Helper()
	hoOnce.Do(func() {
		if b := os.Getenv("LBC_BIN_HALF_OPEN"); b != "" {
			hoBin, hoErr = filepath.Abs(b)
			return
		}
		root, err := moduleRoot()
		if err != nil {
			hoErr = err
			return
		}
		dir, err := os.MkdirTemp("", "lbcheck-half-open-")
		if err != nil {
			hoErr = err
			return
		}
		hoBin = filepath.Join(dir, "check_tcp_half_open")
		build := exec.Command("go", "build", "-trimpath", "-o", hoBin, "./cmd/check_tcp_half_open")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			hoErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if hoErr != nil {
		t.Fatal(hoErr)
	}
	return hoBin
}

type hoResult struct {
	args []string
	out  string
	code int
	wall time.Duration
}

func (r hoResult) String() string {
	return fmt.Sprintf("check_tcp_half_open %s: exit %d in %v\n%s", shellJoin(r.args), r.code, r.wall.Round(time.Millisecond), r.out)
}

// halfOpen runs the binary in lbc-cli with env added to a clean environment.
func halfOpen(t *testing.T, env []string, args ...string) hoResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", nsClient, halfOpenBin(t)}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	start := time.Now()
	out, err := cmd.Output()
	r := hoResult{args: args, out: string(out), wall: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok && ee.Exited() {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run: %v\n%s", err, r)
	}
	return r
}

func TestHalfOpenVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		line string
	}{
		{"nginx ipv4", []string{srv4, "80"}, exitOK, `^TCP_HALF_OPEN OK - port open \(SYN\+ACK\) on 10\.99\.0\.2:80, [0-9.]+ ms after the SYN \| time=[0-9.]+s;;;0;5$`},
		{"nginx ipv6", []string{srv6, "80"}, exitOK, `^TCP_HALF_OPEN OK - port open \(SYN\+ACK\) on \[fd00:99::2\]:80, [0-9.]+ ms after the SYN`},
		{"name", []string{"www.lab.test", "443"}, exitOK, `on (10\.99\.0\.2|\[fd00:99::2\]):443`},
		{"name, -6", []string{"-6", "www.lab.test", "443"}, exitOK, `on \[fd00:99::2\]:443`},
		{"name, -4", []string{"-4", "www.lab.test", "443"}, exitOK, `on 10\.99\.0\.2:443`},
		{"bind ipv4", []string{"-b", cli4, srv4, "80"}, exitOK, `OK - port open`},
		{"bind ipv6", []string{"-b", cli6, srv6, "80"}, exitOK, `OK - port open`},
		{"closed", []string{srv4, "84"}, exitCritical, `^TCP_HALF_OPEN CRITICAL - port closed \(RST\) on 10\.99\.0\.2:84, [0-9.]+ ms after the SYN`},
		{"closed ipv6", []string{srv6, "84"}, exitCritical, `CRITICAL - port closed \(RST\) on \[fd00:99::2\]:84`},
		{"nft tcp reset", []string{srv4, "83"}, exitCritical, `CRITICAL - port closed \(RST\) on 10\.99\.0\.2:83`},
		// -t counts from the process's start: the probe's own wait is that
		// much shorter than 1 s
		{"nft drop", []string{"-t", "1", srv4, "81"}, exitCritical, `^TCP_HALF_OPEN CRITICAL - no answer \(filtered\?\) from 10\.99\.0\.2:81 to 3 SYNs after (9\d\d\.\d ms|1\.0\d s)$`},
		{"nft drop ipv6", []string{"-t", "0.5", srv6, "81"}, exitCritical, `CRITICAL - no answer \(filtered\?\) from \[fd00:99::2\]:81 to 2 SYNs`},
		{"icmp admin-prohibited", []string{srv4, "82"}, exitCritical,
			`^TCP_HALF_OPEN CRITICAL - 10\.99\.0\.2:82 rejected: communication administratively prohibited \(ICMP type 3 code 13\) from 10\.99\.0\.2, [0-9.]+ ms after the SYN \|`},
		{"icmpv6 admin-prohibited", []string{srv6, "82"}, exitCritical,
			`CRITICAL - \[fd00:99::2\]:82 rejected: communication administratively prohibited \(ICMPv6 type 1 code 1\) from fd00:99::2,`},
		{"haproxy argv", []string{"NOT_USED", "NOT_USED", srv6, "80"}, exitOK, `OK - port open`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := halfOpen(t, nil, tc.args...)
			first, _, _ := strings.Cut(r.out, "\n")
			if r.code != tc.code || !regexp.MustCompile(tc.line).MatchString(first) {
				t.Errorf("want exit %d and %s\n%s", tc.code, tc.line, r)
			}
		})
	}
}

// Farmguardian's MARK reaches every packet the probe sends: counted in
// lbc-cli's output hook by a rule that matches the mark.
func TestHalfOpenMark(t *testing.T) {
	nftIn(t, nsClient, `table inet lbcmark {
	counter syn {}
	counter rst {}
	chain output {
		type filter hook output priority 0;
		meta mark 0x2a tcp dport 80 tcp flags == syn counter name syn
		meta mark 0x2a tcp dport 80 tcp flags == rst counter name rst
	}
}`)
	defer exec.Command("ip", "netns", "exec", nsClient, "nft", "delete", "table", "inet", "lbcmark").Run()
	for i := range 5 {
		if r := halfOpen(t, []string{"MARK=42"}, srv4, "80"); r.code != exitOK {
			t.Fatalf("probe %d: %s", i, r)
		}
	}
	if syn, rst := nftCounter(t, nsClient, "lbcmark", "syn"), nftCounter(t, nsClient, "lbcmark", "rst"); syn != 5 || rst != 5 {
		t.Errorf("marked packets: %d SYNs and %d RSTs, want 5 and 5", syn, rst)
	}
}

func nftIn(t *testing.T, ns, ruleset string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s", ns, err, out)
	}
}

var nftPackets = regexp.MustCompile(`packets (\d+)`)

func nftCounter(t *testing.T, ns, table, name string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "counter", "inet", table, name).CombinedOutput()
	m := nftPackets.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("nft counter %s: %v: %s", name, err, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// socatServer starts socat in lbc-srv on port, logging every connection
// it accepts; the returned function reads the log so far.
func socatServer(t *testing.T, port int) (*exec.Cmd, func() string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "socat.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", "lbc-srv", "socat", "-d", "-d",
		fmt.Sprintf("TCP6-LISTEN:%d,ipv6only=0,fork,reuseaddr", port), "SYSTEM:echo hello")
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	read := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(read(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("socat did not start:\n%s", read())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd, read
}

// The reason the check exists: a real server's accept() sees none of our
// probes, while a connect check on the same port is logged.
func TestHalfOpenApplicationSeesNothing(t *testing.T) {
	_, log := socatServer(t, 88)
	for i := range 100 {
		addr := srv4
		if i%2 == 1 {
			addr = srv6
		}
		if r := halfOpen(t, nil, addr, "88"); r.code != exitOK {
			t.Fatalf("probe %d: %s", i, r)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := strings.Count(log(), "accepting connection"); n != 0 {
		t.Fatalf("socat accepted %d connections from half-open probes:\n%s", n, log())
	}
	// The log does show a real connection: the test can fail.
	connect := exec.Command("ip", "netns", "exec", nsClient, "bash", "-c", "exec 3<>/dev/tcp/"+srv4+"/88 && head -c 5 <&3")
	if out, err := connect.CombinedOutput(); err != nil || string(out) != "hello" {
		t.Fatalf("connect check: %v %q", err, out)
	}
	deadline := time.Now().Add(3 * time.Second)
	for strings.Count(log(), "accepting connection") != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(log(), "accepting connection"); n != 1 {
		t.Fatalf("a connect check was logged %d times, want 1:\n%s", n, log())
	}
}

// A frozen application (SIGSTOP): the kernel still completes handshakes
// into the listen queue, so a half-open check still says OK. That is the
// limit of what a SYN proves, and the test pins it down.
func TestHalfOpenFrozenApplication(t *testing.T) {
	srv, _ := socatServer(t, 87)
	if err := srv.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// ip netns exec execs socat: the pid we hold is socat's. The signal is
	// delivered asynchronously: wait until /proc shows it stopped.
	var state []byte
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		state, _ = os.ReadFile(fmt.Sprintf("/proc/%d/stat", srv.Process.Pid))
		if f := strings.Fields(string(state)); len(f) >= 3 && f[2] == "T" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("socat is not stopped: %q", state)
		}
	}
	for _, a := range []string{srv4, srv6} {
		if r := halfOpen(t, nil, a, "87"); r.code != exitOK {
			t.Errorf("frozen application: %s", r)
		}
	}
}

// Many at once, as a load balancer with many backends runs them: open and
// closed ports, IPv4 and IPv6, every verdict right.
func TestHalfOpenConcurrent(t *testing.T) {
	type job struct {
		addr, port string
		code       int
	}
	var jobs []job
	for i := range 100 {
		a := []string{srv4, srv6}[i%2]
		if i%4 < 2 {
			jobs = append(jobs, job{a, "80", exitOK})
		} else {
			jobs = append(jobs, job{a, "84", exitCritical})
		}
	}
	var wg sync.WaitGroup
	results := make([]hoResult, len(jobs))
	for i, j := range jobs {
		wg.Go(func() { results[i] = halfOpen(t, nil, j.addr, j.port) })
	}
	wg.Wait()
	wrong := 0
	for i, r := range results {
		if r.code != jobs[i].code {
			wrong++
			t.Errorf("want exit %d: %s", jobs[i].code, r)
		}
	}
	if wrong > 0 {
		t.Fatalf("%d of %d verdicts wrong", wrong, len(jobs))
	}
}

// Without privilege: UNKNOWN and the setcap hint; with the file
// capability, as nobody, it works.
func TestHalfOpenPrivilege(t *testing.T) {
	bin := halfOpenBin(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	capped := filepath.Join(dir, "check_tcp_half_open")
	data, err := os.ReadFile(bin)
	if err == nil {
		err = os.WriteFile(capped, data, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	asNobody := func(path string) hoResult {
		cmd := exec.Command("ip", "netns", "exec", nsClient, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", path, srv4, "80")
		var out bytes.Buffer
		cmd.Stdout = &out
		err := cmd.Run()
		r := hoResult{args: []string{"(as nobody)", srv4, "80"}, out: out.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		}
		return r
	}
	if r := asNobody(capped); r.code != exitUnknown || !strings.Contains(r.out, "setcap cap_net_raw+ep "+capped) {
		t.Errorf("without the capability: %s", r)
	}
	if out, err := exec.Command("setcap", "cap_net_raw+ep", capped).CombinedOutput(); err != nil {
		t.Fatalf("setcap: %v: %s", err, out)
	}
	if r := asNobody(capped); r.code != exitOK {
		t.Errorf("with cap_net_raw+ep: %s", r)
	}
}
