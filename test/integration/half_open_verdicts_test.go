//go:build integration

package integration

// TestHalfOpenVerdictMatrix (issue 22, item 3): the single-probe path
// (check_tcp_half_open; an lbcheckd half-open module without `every`) and
// the watched path (a module with `every`, probed on the daemon's
// schedule) give the same verdicts, in the same words, on the same ports:
// open (nginx), open with the kernel's own RST dropped (without and with
// --mark), SYN cookies (tcp_syncookies=2), closed, dropped by nft, reset by
// nft, and rejected by nft with every ICMP and ICMPv6 destination
// unreachable code (and icmpx's), IPv4 and IPv6. Each is asked through
// every front (/check, the agent, /probe) and compared, masked of its
// address and times, with the wording expected here (README's table of
// ICMP codes): the binary, the module and the watch agree when all three
// match it. Afterwards no server may keep a half-made connection.
//
// The namespaces are the test's own (lbc-hv-*): the SYN-cookie server
// needs a namespace whose tcp_syncookies is 2, and ICMP rate limits are
// switched off in the rejecting one, neither of which may touch lbc-srv.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	hvCli    = "lbc-hv-cli" // the prober: the binary and lbcheckd
	hvSrv    = "lbc-hv-srv" // nginx, nft's drops, resets and rejects
	hvCookie = "lbc-hv-ck"  // nginx answering with SYN cookies only

	// hvDeadline sits between two SYNs of the retransmit schedule (0,
	// 0.25, 0.75, 1.75 s): a silent port gets 3 SYNs whether the deadline
	// counts from the binary's start (which eats a few ms) or the probe's.
	hvDeadline = "1.25"
	hvMark     = "0x2a"
)

// The servers' ports. hvPortOwnRST is nginx too, but the client drops the
// kernel's RST to it: only the probe's own RST can end the server's
// half-made connection.
const (
	hvPortOpen   = 7000
	hvPortOwnRST = 7001
	hvPortClosed = 7002
	hvPortDrop   = 7003
	hvPortReset  = 7004
	hvPortICMP4  = 7100 // + the code
	hvPortICMP6  = 7200 // + the code
	hvPortICMPX  = 7300 // + the index in hvICMPX
)

var (
	hvSrv4    = netip.MustParseAddr("10.97.1.2")
	hvSrv6    = netip.MustParseAddr("fd00:97:1::2")
	hvCookie4 = netip.MustParseAddr("10.97.2.2")
	hvCookie6 = netip.MustParseAddr("fd00:97:2::2")
)

// hvICMP4 and hvICMP6 are the destination-unreachable codes nft can send
// (nft describe icmp_code, icmpv6_code: the named ones, and any number;
// IPv4 codes past 15 are dropped by the receiving kernel, so never
// reach a prober) and the words the probe gives them.
var (
	hvICMP4 = []struct {
		code  int
		nft   string
		words string
	}{
		{0, "net-unreachable", "network unreachable"},
		{1, "host-unreachable", "host unreachable"},
		{2, "prot-unreachable", "protocol unreachable"},
		{3, "port-unreachable", "port unreachable"},
		{4, "frag-needed", "fragmentation needed"},
		{5, "5", "destination unreachable"}, // source route failed
		{6, "6", "destination unknown"},     // network unknown
		{7, "7", "destination unknown"},     // host unknown
		{8, "8", "destination unreachable"}, // source host isolated
		{9, "net-prohibited", "communication administratively prohibited"},
		{10, "host-prohibited", "communication administratively prohibited"},
		{11, "11", "destination unreachable"}, // network unreachable for TOS
		{12, "12", "destination unreachable"}, // host unreachable for TOS
		{13, "admin-prohibited", "communication administratively prohibited"},
		{14, "14", "destination unreachable"}, // host precedence violation
		{15, "15", "destination unreachable"}, // precedence cutoff
	}
	hvICMP6 = []struct {
		code  int
		nft   string
		words string
	}{
		{0, "no-route", "no route to destination"},
		{1, "admin-prohibited", "communication administratively prohibited"},
		{2, "2", "beyond scope of source address"},
		{3, "addr-unreachable", "address unreachable"},
		{4, "port-unreachable", "port unreachable"},
		{5, "policy-fail", "source address failed ingress/egress policy"},
		{6, "reject-route", "reject route to destination"},
		{7, "7", "destination unreachable"}, // error in source routing header (RFC 6550)
		{8, "8", "destination unreachable"}, // headers too long (RFC 8883)
	}
	// hvICMPX are an inet table's family-neutral codes (reject with
	// icmpx) and the code each family's error then carries.
	hvICMPX = []struct {
		nft          string
		code4, code6 int
	}{
		{"port-unreachable", 3, 4},
		{"admin-prohibited", 13, 1},
		{"no-route", 0, 0},
		{"host-unreachable", 1, 3},
	}
)

// hvCase is one port of one family and the verdict every path must give.
// summary is masked (hvMask): TARGET for the address:port, SERVER for the
// server's bare address, N for a time.
type hvCase struct {
	name    string
	addr    netip.AddrPort
	marked  bool // probe with --mark (the modules plain_marked, watched_marked)
	ok      bool // OK, else CRITICAL
	timeout bool // no answer: no perfdata
	summary string
}

func hvCases() []hvCase {
	var cs []hvCase
	open := "port open (SYN+ACK) on TARGET, N after the SYN"
	closed := "port closed (RST) on TARGET, N after the SYN"
	for _, f := range []struct {
		name        string
		srv, cookie netip.Addr
	}{{"ipv4", hvSrv4, hvCookie4}, {"ipv6", hvSrv6, hvCookie6}} {
		at := func(p int) netip.AddrPort { return netip.AddrPortFrom(f.srv, uint16(p)) }
		cs = append(cs,
			hvCase{name: "open " + f.name, addr: at(hvPortOpen), ok: true, summary: open},
			hvCase{name: "open, our RST only " + f.name, addr: at(hvPortOwnRST), ok: true, summary: open},
			hvCase{name: "open, --mark, our RST only " + f.name, addr: at(hvPortOwnRST), marked: true, ok: true, summary: open},
			hvCase{name: "syncookies " + f.name, addr: netip.AddrPortFrom(f.cookie, hvPortOpen), ok: true, summary: open},
			hvCase{name: "closed " + f.name, addr: at(hvPortClosed), summary: closed},
			hvCase{name: "nft tcp reset " + f.name, addr: at(hvPortReset), summary: closed},
			hvCase{name: "nft drop " + f.name, addr: at(hvPortDrop), timeout: true,
				summary: "no answer (filtered?) from TARGET to 3 SYNs after N"},
		)
	}
	for _, c := range hvICMP4 {
		cs = append(cs, hvCase{name: "icmp " + c.nft, addr: netip.AddrPortFrom(hvSrv4, uint16(hvPortICMP4+c.code)),
			summary: fmt.Sprintf("TARGET rejected: %s (ICMP type 3 code %d) from SERVER, N after the SYN", c.words, c.code)})
	}
	for _, c := range hvICMP6 {
		cs = append(cs, hvCase{name: "icmpv6 " + c.nft, addr: netip.AddrPortFrom(hvSrv6, uint16(hvPortICMP6+c.code)),
			summary: fmt.Sprintf("TARGET rejected: %s (ICMPv6 type 1 code %d) from SERVER, N after the SYN", c.words, c.code)})
	}
	for i, c := range hvICMPX {
		port := uint16(hvPortICMPX + i)
		cs = append(cs,
			hvCase{name: "icmpx " + c.nft + " ipv4", addr: netip.AddrPortFrom(hvSrv4, port),
				summary: fmt.Sprintf("TARGET rejected: %s (ICMP type 3 code %d) from SERVER, N after the SYN", hvICMP4[c.code4].words, c.code4)},
			hvCase{name: "icmpx " + c.nft + " ipv6", addr: netip.AddrPortFrom(hvSrv6, port),
				summary: fmt.Sprintf("TARGET rejected: %s (ICMPv6 type 1 code %d) from SERVER, N after the SYN", hvICMP6[c.code6].words, c.code6)})
	}
	return cs
}

// line is the Nagios line every path must print (masked).
func (c hvCase) line() string {
	state := "CRITICAL"
	if c.ok {
		state = "OK"
	}
	l := "TCP_HALF_OPEN " + state + " - " + c.summary
	if !c.timeout {
		l += " | time=Ts;;;0;" + hvDeadline
	}
	return l
}

// hvWatchdogLine is the binary's line when its watchdog, not its run,
// ends the process (internal/plugin), masked.
const hvWatchdogLine = "TCP_HALF_OPEN CRITICAL - no verdict within N"

var (
	hvTimeRE = regexp.MustCompile(`\b\d+(\.\d+)? (ms|s)\b`)
	hvPerfRE = regexp.MustCompile(`\btime=\d+(\.\d+)?s;`)
)

// hvMask takes out what differs between two runs on the same port: the
// address and port, the reporting address of an ICMP error, the times.
func hvMask(s string, target netip.AddrPort) string {
	s = strings.ReplaceAll(s, target.String(), "TARGET")
	s = strings.ReplaceAll(s, "from "+target.Addr().String()+",", "from SERVER,")
	s = hvPerfRE.ReplaceAllString(s, "time=Ts;")
	return hvTimeRE.ReplaceAllString(s, "N")
}

func TestHalfOpenVerdictMatrix(t *testing.T) {
	cases := hvCases()
	hvNamespaces(t)
	hvServers(t)
	bin := halfOpenBin(t)
	d := hvStartDaemon(t, cases)

	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				hvCheckCase(t, bin, d, c)
			})
		}
	})

	// The watched modules' answers came from sweeps (batched SYNs from the
	// reserved port range), not from the single-probe path: a sweep's
	// wording is what this matrix holds to the binary's.
	if n := d.metric(t, "lbcheckd_halfopen_sent_batch_packets_sum"); n < float64(len(cases)) {
		t.Errorf("lbcheckd sent %v packets in sweep batches for %d watched targets: the watched modules were not swept", n, len(cases))
	}

	// Every SYN+ACK got its RST: none of the servers' connections is left
	// half-made. On hvPortOwnRST the kernel's RST was dropped (counted),
	// so the probes' own RSTs did it. The watched modules keep probing:
	// an entry lives microseconds, a leftover one a minute.
	if n := nftCounter(t, hvCli, "hv", "kernel_rst"); n == 0 {
		t.Errorf("no kernel RST to port %d was dropped: the rule does not test our own RST", hvPortOwnRST)
	}
	// The cookie server answered with SYN cookies, and only it did.
	if n := hvSyncookiesSent(t, hvCookie); n == 0 {
		t.Errorf("%s sent no SYN cookies: the syncookies cases tested nothing new", hvCookie)
	}
	if n := hvSyncookiesSent(t, hvSrv); n != 0 {
		t.Errorf("%s sent %d SYN cookies: its open ports were to answer from the SYN queue", hvSrv, n)
	}
	for _, ns := range []string{hvSrv, hvCookie} {
		var left string
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-Htn", "state", "syn-recv").CombinedOutput()
			if err != nil {
				t.Fatalf("ss in %s: %v: %s", ns, err, out)
			}
			if left = strings.TrimSpace(string(out)); left == "" || time.Now().After(deadline) {
				break
			}
		}
		if left != "" {
			t.Errorf("%s keeps half-made connections (SYN-RECV) after the probes:\n%s", ns, left)
		}
	}
}

// hvCheckCase runs the binary and asks both modules on every front, at
// once, and compares each answer with the case's.
func hvCheckCase(t *testing.T, bin string, d *hvDaemon, c hvCase) {
	want := c.line()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []string // masked answers, for the report
	record := func(who, answer string) {
		mu.Lock()
		got = append(got, fmt.Sprintf("%-22s %s", who, answer))
		mu.Unlock()
	}
	wg.Go(func() {
		args := []string{"-t", hvDeadline}
		if c.marked {
			args = append(args, "--mark", hvMark)
		}
		args = append(args, c.addr.Addr().String(), strconv.Itoa(int(c.addr.Port())))
		code, first := hvRunBinary(t, bin, args...)
		line := hvMask(first, c.addr)
		// The binary's watchdog prints its own line when the run's
		// verdict is not out by the deadline + 20 ms (plugin.grace at
		// this -t): a process starved of CPU at that moment, as this
		// shared machine's can be. That is the process's fallback, not
		// the probe's verdict, and the daemon has none: run it again,
		// and say so.
		for try := 1; c.timeout && code == exitCritical && line == hvWatchdogLine && try <= 2; try++ {
			t.Logf("check_tcp_half_open: the watchdog's line %q, not the probe's verdict (starved past the grace): run %d again", line, try)
			code, first = hvRunBinary(t, bin, args...)
			line = hvMask(first, c.addr)
		}
		record("check_tcp_half_open", fmt.Sprintf("exit %d: %s", code, line))
		if wantCode := map[bool]int{true: exitOK, false: exitCritical}[c.ok]; code != wantCode || line != want {
			t.Errorf("check_tcp_half_open: exit %d %q\nwant exit %d %q", code, line, wantCode, want)
		}
	})
	for _, watched := range []bool{false, true} {
		module := d.module(c.marked, watched)
		wg.Go(func() {
			status, body, err := d.get("/check", module, c.addr)
			line := hvMask(strings.TrimSuffix(body, "\n"), c.addr)
			record(module+" /check", fmt.Sprintf("%d: %s", status, line))
			if wantStatus := map[bool]int{true: 200, false: 503}[c.ok]; err != nil || status != wantStatus || line != want {
				t.Errorf("%s /check: %d %q (%v)\nwant %d %q", module, status, line, err, wantStatus, want)
			}
		})
		wg.Go(func() {
			answer, err := d.agent(module, c.addr)
			answer = hvMask(answer, c.addr)
			record(module+" agent", strings.TrimSuffix(answer, "\n"))
			wantAnswer := "up\n"
			if !c.ok {
				wantAnswer = "down #CRITICAL - " + c.summary + "\n"
			}
			if err != nil || answer != wantAnswer {
				t.Errorf("%s agent: %q (%v), want %q", module, answer, err, wantAnswer)
			}
		})
		wg.Go(func() {
			status, body, err := d.get("/probe", module, c.addr)
			success, state := hvMetric(body, "probe_success"), hvMetric(body, "probe_nagios_state")
			record(module+" /probe", fmt.Sprintf("%d: probe_success %s probe_nagios_state %s", status, success, state))
			wantSuccess, wantState := "0", "2"
			if c.ok {
				wantSuccess, wantState = "1", "0"
			}
			if err != nil || status != 200 || success != wantSuccess || state != wantState {
				t.Errorf("%s /probe: %d probe_success %q probe_nagios_state %q (%v), want 200 %s %s",
					module, status, success, state, err, wantSuccess, wantState)
			}
		})
	}
	wg.Wait()
	if t.Failed() || testing.Verbose() {
		t.Logf("%s, want %q:\n  %s", c.addr, want, strings.Join(got, "\n  "))
	}
}

// hvSyncookiesSent is the SYN cookies ns's kernel has sent.
func hvSyncookiesSent(t *testing.T, ns string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "nstat", "-asz", "TcpExtSyncookiesSent").CombinedOutput()
	f := strings.Fields(string(out))
	for i := 0; err == nil && i+1 < len(f); i++ {
		if f[i] == "TcpExtSyncookiesSent" {
			n, err := strconv.Atoi(f[i+1])
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("nstat in %s: %v: %s", ns, err, out)
	return 0
}

var hvMetricRE = regexp.MustCompile(`(?m)^(\w+) (\S+)$`)

// hvMetric is the value of an unlabelled series in a /probe answer.
func hvMetric(body, name string) string {
	for _, m := range hvMetricRE.FindAllStringSubmatch(body, -1) {
		if m[1] == name {
			return m[2]
		}
	}
	return ""
}

// hvRunBinary runs check_tcp_half_open in the client namespace, as root,
// and returns its exit code and first line.
func hvRunBinary(t *testing.T, bin string, args ...string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", hvCli, bin}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok && ee.Exited() {
		code = ee.ExitCode()
	} else if err != nil {
		t.Errorf("check_tcp_half_open %s: %v", shellJoin(args), err)
		return -1, ""
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return code, first
}

// hvNamespaces makes the client and the two servers, each over a veth of
// its own: 10.97.1.0/24 and fd00:97:1::/64 to hvSrv, 10.97.2.0/24 and
// fd00:97:2::/64 to hvCookie. Nothing is routed anywhere else.
func hvNamespaces(t *testing.T) {
	t.Helper()
	for _, ns := range []string{hvCli, hvSrv, hvCookie} {
		exec.Command("ip", "netns", "del", ns).Run() // a crashed run's leftovers
		hvRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		hvRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	for i, srv := range []string{hvSrv, hvCookie} {
		sub := strconv.Itoa(i + 1)
		cliEnd, srvEnd := "hv-srv"+sub, "hv-cli"
		hvRun(t, "ip", "link", "add", cliEnd, "netns", hvCli, "type", "veth", "peer", "name", srvEnd, "netns", srv)
		for _, a := range [][3]string{
			{hvCli, cliEnd, "10.97." + sub + ".1/24"}, {hvCli, cliEnd, "fd00:97:" + sub + "::1/64"},
			{srv, srvEnd, "10.97." + sub + ".2/24"}, {srv, srvEnd, "fd00:97:" + sub + "::2/64"},
		} {
			// nodad: usable at once, not after duplicate address detection
			hvRun(t, "ip", "-n", a[0], "addr", "add", a[2], "dev", a[1], "nodad")
		}
		hvRun(t, "ip", "-n", hvCli, "link", "set", cliEnd, "up")
		hvRun(t, "ip", "-n", srv, "link", "set", srvEnd, "up")
	}
	// Every probe of every path gets its ICMP error: the kernel's per-peer
	// and global limits would turn the later ones into "no answer". A type
	// outside the ratemask is limited by neither.
	hvRun(t, "ip", "netns", "exec", hvSrv, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_ratemask=0",
		"net.ipv6.icmp.ratelimit=0", "net.ipv6.icmp.ratemask=0")
	// 2: a SYN cookie for every SYN, IPv6 too, whatever the queue holds.
	hvRun(t, "ip", "netns", "exec", hvCookie, "sysctl", "-qw", "net.ipv4.tcp_syncookies=2")

	var rules strings.Builder
	fmt.Fprintf(&rules, "table inet hv {\n\tchain input {\n\t\ttype filter hook input priority 0;\n")
	fmt.Fprintf(&rules, "\t\ttcp dport %d drop\n\t\ttcp dport %d reject with tcp reset\n", hvPortDrop, hvPortReset)
	for _, c := range hvICMP4 {
		fmt.Fprintf(&rules, "\t\tmeta nfproto ipv4 tcp dport %d reject with icmp type %s\n", hvPortICMP4+c.code, c.nft)
	}
	for _, c := range hvICMP6 {
		fmt.Fprintf(&rules, "\t\tmeta nfproto ipv6 tcp dport %d reject with icmpv6 type %s\n", hvPortICMP6+c.code, c.nft)
	}
	for i, c := range hvICMPX {
		fmt.Fprintf(&rules, "\t\ttcp dport %d reject with icmpx type %s\n", hvPortICMPX+i, c.nft)
	}
	rules.WriteString("\t}\n}\n")
	nftIn(t, hvSrv, rules.String())
	// The kernel answers a SYN+ACK to a port it has no connection on with
	// an RST from its own control socket, which no process owns (meta
	// skuid does not match it); the probes' RSTs leave root's raw sockets.
	nftIn(t, hvCli, fmt.Sprintf(`table inet hv {
	counter kernel_rst {}
	chain output {
		type filter hook output priority 0;
		tcp dport %[1]d tcp flags & rst == rst meta skuid 0 accept
		tcp dport %[1]d tcp flags & rst == rst counter name kernel_rst drop
	}
}`, hvPortOwnRST))
}

func hvRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, shellJoin(args), err, out)
	}
}

// hvServers runs nginx in hvSrv (the open ports) and in hvCookie, until
// the test ends, and waits until each accepts.
func hvServers(t *testing.T) {
	t.Helper()
	for _, s := range []struct {
		ns    string
		addrs []netip.Addr
		ports []int
	}{
		{hvSrv, []netip.Addr{hvSrv4, hvSrv6}, []int{hvPortOpen, hvPortOwnRST}},
		{hvCookie, []netip.Addr{hvCookie4, hvCookie6}, []int{hvPortOpen}},
	} {
		dir := t.TempDir()
		var listen strings.Builder
		var addrs []string
		for _, a := range s.addrs {
			for _, p := range s.ports {
				ap := netip.AddrPortFrom(a, uint16(p)).String()
				fmt.Fprintf(&listen, "\t\tlisten %s;\n", ap)
				addrs = append(addrs, ap)
			}
		}
		conf := filepath.Join(dir, "nginx.conf")
		os.WriteFile(conf, []byte(fmt.Sprintf(`# generated by test/integration/half_open_verdicts_test.go
daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
	access_log %[1]s/access.log;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
%[2]s		return 200 "hv\n";
	}
}
`, dir, listen.String())), 0o644)
		logf, err := os.Create(filepath.Join(dir, "nginx.out"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("nginx", "-e", filepath.Join(dir, "error.log"), "-c", conf)
		keepRunning(t, "nginx in "+s.ns, cmd, func() error { return nsStart(cmd, s.ns) }, logf, 20)
		for _, a := range addrs {
			for i := 0; ; i++ {
				c, err := hvDial(hvCli, "tcp", a, time.Second)
				if err == nil {
					c.Close()
					break
				}
				if i == 50 {
					t.Fatalf("nginx in %s does not accept on %s: %v", s.ns, a, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

// hvDial connects from inside ns: a socket stays in the namespace it was
// made in, so the thread that makes it joins ns for that moment only.
func hvDial(ns, network, addr string, timeout time.Duration) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		back, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{nil, err}
			return
		}
		defer back.Close()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{nil, fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		c, err := net.DialTimeout(network, addr, timeout)
		if err := unix.Setns(int(back.Fd()), unix.CLONE_NEWNET); err != nil {
			// stay locked: the thread ends with this goroutine
			if c != nil {
				c.Close()
			}
			done <- result{nil, fmt.Errorf("setns back from %s: %w", ns, err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}

// hvDaemon is lbcheckd in hvCli with four half-open modules: with and
// without `every`, with and without the mark.
type hvDaemon struct {
	http *http.Client
}

const (
	hvHTTP  = "127.0.0.1:9707"
	hvAgent = "127.0.0.1:9708"
)

func (d *hvDaemon) module(marked, watched bool) string {
	m := "plain"
	if watched {
		m = "watched"
	}
	if marked {
		m += "_marked"
	}
	return m
}

func hvStartDaemon(t *testing.T, cases []hvCase) *hvDaemon {
	t.Helper()
	targets := map[bool][]string{}
	for _, c := range cases {
		targets[c.marked] = append(targets[c.marked], strconv.Quote(c.addr.String()))
	}
	// The watched modules watch every case's target from the start: what
	// the fronts answer for them comes from the daemon's schedule, not
	// from a probe an ask started.
	every := "2s"
	conf := fmt.Sprintf(`listen: %s
agent_listen: %s
allow: [10.97.0.0/16, "fd00:97::/32"]
modules:
  plain: [check_tcp_half_open, -t, "%[3]s"]
  plain_marked: [check_tcp_half_open, -t, "%[3]s", --mark, "%[4]s"]
  watched:
    check: [check_tcp_half_open, -t, "%[3]s"]
    every: %[5]s
    targets: [%[6]s]
  watched_marked:
    check: [check_tcp_half_open, -t, "%[3]s", --mark, "%[4]s"]
    every: %[5]s
    targets: [%[7]s]
`, hvHTTP, hvAgent, hvDeadline, hvMark, every, strings.Join(targets[false], ", "), strings.Join(targets[true], ", "))
	dir := t.TempDir()
	path := filepath.Join(dir, "lbcheckd.yml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "lbcheckd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lbcheckdBin(t), "--config", path, "--log-level", "info")
	keepRunning(t, "lbcheckd", cmd, func() error { return nsStart(cmd, hvCli) }, logf, 40)
	d := &hvDaemon{http: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return hvDial(hvCli, network, addr, 5*time.Second)
			},
		},
	}}
	// Until every watch has two verdicts of the schedule's.
	var last string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		n, err := d.watchesReady(len(cases))
		if err == nil {
			t.Logf("lbcheckd: %d watches with two verdicts or more", n)
			return d
		}
		last = err.Error()
		if time.Now().After(deadline) {
			t.Fatalf("lbcheckd's watches are not ready within 30 s: %s", last)
		}
	}
}

// metric reads one sample of lbcheckd's /metrics (a name without labels).
func (d *hvDaemon) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := d.http.Get("http://" + hvHTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("/metrics: %q: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// watchesReady checks that /watches lists want watches, each with at
// least two verdicts.
func (d *hvDaemon) watchesReady(want int) (int, error) {
	req, _ := http.NewRequest("GET", "http://"+hvHTTP+"/watches", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ws []struct {
		Module, Target string
		History        []string
	}
	if err := json.NewDecoder(resp.Body).Decode(&ws); err != nil {
		return 0, fmt.Errorf("/watches: %v", err)
	}
	ready := 0
	for _, w := range ws {
		if len(w.History) >= 2 {
			ready++
		}
	}
	if len(ws) != want || ready != want {
		return ready, fmt.Errorf("%d watches, %d with two verdicts; want %d", len(ws), ready, want)
	}
	return ready, nil
}

// get asks path (/check or /probe) about target with module.
func (d *hvDaemon) get(path, module string, target netip.AddrPort) (int, string, error) {
	u := "http://" + hvHTTP + path + "?module=" + url.QueryEscape(module) + "&target=" + url.QueryEscape(target.String())
	resp, err := d.http.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// agent asks as HAProxy's agent-check does ("MODULE HOST PORT\n", IPv6
// bare) and returns the line answered.
func (d *hvDaemon) agent(module string, target netip.AddrPort) (string, error) {
	c, err := hvDial(hvCli, "tcp", hvAgent, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%s %s %d\n", module, target.Addr(), target.Port()); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return line, fmt.Errorf("agent: %w", err)
	}
	return line, nil
}
