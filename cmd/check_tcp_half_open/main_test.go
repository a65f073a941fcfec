package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/lab/netns"
	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// The tests run in a network namespace of their own (raw sockets, nft
// rules): see internal/lab/netns.
var (
	open4   netip.AddrPort
	open6   netip.AddrPort
	closed4 netip.AddrPort
	// held keeps the sockets above open: a listener the garbage collector
	// finalises is closed, and its port then answers RST.
	held []any
)

// dropped is a port whose SYNs the namespace's nft rules drop; counted
// counts SYNs carrying mark 0x2a.
const (
	dropped = 1081
	counted = 1084
)

func TestMain(m *testing.M) {
	os.Exit(netns.Main(func() int {
		dropCaps = false // the process keeps opening raw sockets
		return proctest.RunTests(m, setup)
	}))
}

// setup starts two listeners that never accept, holds a closed port, and
// installs the nft rules.
func setup() error {
	for _, a := range []struct {
		addr string
		to   *netip.AddrPort
	}{{"127.0.0.1:0", &open4}, {"[::1]:0", &open6}, {fmt.Sprintf("127.0.0.1:%d", counted), nil}} {
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			return err
		}
		held = append(held, ln)
		if a.to != nil {
			*a.to = ln.Addr().(*net.TCPAddr).AddrPort()
		}
	}
	// Bound, never listening: the kernel answers RST.
	c, err := (&net.ListenConfig{}).ListenPacket(context.Background(), "udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	held = append(held, c)
	closed4 = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(c.LocalAddr().(*net.UDPAddr).Port))
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(fmt.Sprintf(`
table inet lbctest {
	counter marked {}
	chain input { type filter hook input priority 0; tcp dport %d drop; }
	chain output { type filter hook output priority 0; tcp dport %d meta mark 0x2a tcp flags == syn counter name marked; }
}`, dropped, counted))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, out)
	}
	return nil
}

func check(t *testing.T, args ...string) (int, string) { return proctest.Run(t, run, args...) }

func hp(a netip.AddrPort) []string { return proctest.HostPort(a) }

func TestVerdicts(t *testing.T) {
	// closed4 is held by a UDP socket: the TCP port is free, and closed.
	proctest.Verdicts(t, run, []proctest.Verdict{
		{"open", hp(open4), 0, `^TCP_HALF_OPEN OK - port open \(SYN\+ACK\) on 127\.0\.0\.1:\d+, [0-9.]+ ms after the SYN \| time=[0-9.]+s;;;0;5$`},
		{"open ipv6", hp(open6), 0, `^TCP_HALF_OPEN OK - port open \(SYN\+ACK\) on \[::1\]:\d+, [0-9.]+ ms after the SYN`},
		{"open host:port", []string{open4.String()}, 0, `OK - port open`},
		{"open -H -p", []string{"-H", "127.0.0.1", "-p", fmt.Sprint(open4.Port())}, 0, `OK - port open`},
		{"open haproxy argv", []string{"NOT_USED", "NOT_USED", "127.0.0.1", fmt.Sprint(open4.Port())}, 0, `OK - port open`},
		{"open with thresholds", append([]string{"-w", "0.000001", "-c", "10"}, hp(open4)...), 1, `^TCP_HALF_OPEN WARNING - port open .*; time outside warning range \| time=[0-9.]+s;0\.000001;10;0;5$`},
		{"closed", hp(closed4), 2, `^TCP_HALF_OPEN CRITICAL - port closed \(RST\) on 127\.0\.0\.1:\d+, [0-9.]+ ms after the SYN \| time=`},
		{"closed binary style", append([]string{"--exit-style", "binary"}, hp(closed4)...), 1, `CRITICAL - port closed`},
		{"dropped", []string{"-t", "0.3", "127.0.0.1", strconv.Itoa(dropped)}, 2, `^TCP_HALF_OPEN CRITICAL - no answer \(filtered\?\) from 127\.0\.0\.1:1081 to 2 SYNs after 3\d\d\.\d ms$`},
		{"dropped, timeout-state warning", []string{"-t", "0.2", "--timeout-state", "warning", "::1", strconv.Itoa(dropped)}, 1, `^TCP_HALF_OPEN WARNING - no answer \(filtered\?\) from \[::1\]:1081`},
		{"dropped, 3 attempts", []string{"-t", "0.6", "--attempts", "3", "--retry-delay", "0", "127.0.0.1", strconv.Itoa(dropped)}, 2, `no answer \(filtered\?\) .* \(attempt 3 of 3\)$`},
		{"no port", []string{"127.0.0.1"}, 3, `^TCP_HALF_OPEN UNKNOWN - bad argument: no PORT given`},
		{"port 0", []string{"127.0.0.1", "0"}, 3, `^TCP_HALF_OPEN UNKNOWN - .*port`},
		{"bad option", []string{"--nope", "127.0.0.1", "80"}, 3, `^TCP_HALF_OPEN UNKNOWN - bad argument: unknown flag: --nope`},
		{"bind not here", append([]string{"-b", "10.255.0.1"}, hp(open4)...), 3, `^TCP_HALF_OPEN UNKNOWN - raw socket: socket setup: bind 10\.255\.0\.1`},
		{"bind other family", append([]string{"-b", "::1"}, hp(open4)...), 3, `UNKNOWN - .*not an IPv6 address`},
	})
}

func TestMarkFromEnvironment(t *testing.T) {
	before := marked(t)
	t.Setenv("MARK", "42")
	if code, out := check(t, "127.0.0.1", strconv.Itoa(counted)); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if n := marked(t) - before; n != 1 {
		t.Errorf("%d SYNs with mark 0x2a, want 1", n)
	}
	t.Setenv("MARK", "0x2x")
	if code, out := check(t, "127.0.0.1", strconv.Itoa(counted)); code != 3 || !strings.Contains(out, "environment variable MARK") {
		t.Errorf("bad MARK: exit %d: %s", code, out)
	}
}

func marked(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("nft", "list", "counter", "inet", "lbctest", "marked").CombinedOutput()
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

func TestJSON(t *testing.T) {
	code, v := proctest.JSON(t, run, hp(closed4)...)
	if code != 2 || v.State != "CRITICAL" || !strings.Contains(v.Summary, "port closed (RST)") {
		t.Errorf("exit %d: %+v", code, v)
	}
}

func TestVerboseTrace(t *testing.T) {
	code, out := check(t, append([]string{"-v"}, hp(open4)...)...)
	for _, want := range []string{"raw socket 127.0.0.1 -> 127.0.0.1 open", "SYN 127.0.0.1:", "SYN+ACK from", "RST 127.0.0.1:"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestHelp(t *testing.T) {
	proctest.HelpAndVersion(t, run, "check_tcp_half_open", "check_tcp_half_open", "PORT is required", "setcap cap_net_raw+ep", "MARK=")
}

// The probe's own deadline wins over a peer that never answers, in
// process. Best of three: one late wake-up under -race on a loaded machine
// is not a broken deadline.
func TestDeadline(t *testing.T) {
	best := time.Hour
	for range 3 {
		start := time.Now()
		code, out := check(t, "-t", "0.25", "127.0.0.1", strconv.Itoa(dropped))
		best = min(best, time.Since(start))
		if code != 2 || !strings.Contains(out, "no answer (filtered?)") {
			t.Errorf("exit %d: %s", code, out)
		}
	}
	if best > 350*time.Millisecond {
		t.Errorf("took %v at best with -t 0.25", best)
	}
}
