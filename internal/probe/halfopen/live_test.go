package halfopen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/lab/netns"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// Every test here runs in a network namespace of its own: raw sockets and
// nft rules touch nothing outside, and no packet can leave.
func TestMain(m *testing.M) { os.Exit(netns.Main(m.Run)) }

// Ports the nft rules of this namespace act on.
const (
	portDrop    = 1081 // input: dropped
	portProhib  = 1082 // input: rejected with ICMP(v6) admin-prohibited
	portUnreach = 1083 // input: rejected with ICMP(v6) port unreachable
	portCount   = 1084 // output: counted by mark and by source address
	portOutDrop = 1085 // output: our own SYN dropped, so the write fails
	portNoRST   = 1086 // output: the kernel's RST (unmarked) dropped, as a host firewall may
	portLostRST = 1087 // output: every RST dropped, ours too, as if lost
)

var nftOnce sync.Once

// rules installs this package's nft table once, for all tests.
func rules(t *testing.T) {
	t.Helper()
	var err error
	nftOnce.Do(func() {
		ruleset := fmt.Sprintf(`
table inet lbctest {
	counter syn_drop {}
	counter marked_syn {}
	counter marked_rst {}
	counter from_bind {}
	chain input {
		type filter hook input priority 0;
		tcp dport %[1]d tcp flags syn counter name syn_drop drop
		tcp dport %[2]d meta nfproto ipv4 reject with icmp type admin-prohibited
		tcp dport %[2]d meta nfproto ipv6 reject with icmpv6 type admin-prohibited
		tcp dport %[3]d meta nfproto ipv4 reject with icmp type port-unreachable
		tcp dport %[3]d meta nfproto ipv6 reject with icmpv6 type port-unreachable
	}
	chain output {
		type filter hook output priority 0;
		tcp dport %[4]d meta mark 0x2a tcp flags == syn counter name marked_syn
		tcp dport %[4]d meta mark 0x2a tcp flags == rst counter name marked_rst
		tcp dport %[4]d ip saddr 127.0.0.2 tcp flags == syn counter name from_bind
		tcp dport %[5]d drop
		tcp dport %[6]d meta mark 0 tcp flags & rst == rst drop
		tcp dport %[7]d tcp flags & rst == rst drop
	}
}`, portDrop, portProhib, portUnreach, portCount, portOutDrop, portNoRST, portLostRST)
		cmd := exec.Command("nft", "-f", "-")
		cmd.Stdin = strings.NewReader(ruleset)
		if out, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("nft: %v: %s", e, out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

var packetsRE = regexp.MustCompile(`packets (\d+)`)

func counter(t *testing.T, name string) int {
	t.Helper()
	out, err := exec.Command("nft", "list", "counter", "inet", "lbctest", name).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list counter %s: %v: %s", name, err, out)
	}
	m := packetsRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("counter %s: no packets in %q", name, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// listener is a TCP server that counts what its accept() returns.
type listener struct {
	net.Listener
	accepted atomic.Int64
}

func listen(t testing.TB, addr string, accept bool) *listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{Listener: ln}
	t.Cleanup(func() { ln.Close() })
	if accept {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				l.accepted.Add(1)
				c.Close()
			}
		}()
	}
	return l
}

func (l *listener) addrPort() netip.AddrPort { return l.Addr().(*net.TCPAddr).AddrPort() }

// closedPort is a port nobody listens on, held bound so no test takes it.
func closedPort(t testing.TB, ip string) netip.AddrPort {
	t.Helper()
	fam := unix.AF_INET
	if strings.Contains(ip, ":") {
		fam = unix.AF_INET6
	}
	a := netip.MustParseAddr(ip)
	port, release, err := reservePort(a)
	if err != nil {
		t.Fatal(err)
	}
	_ = fam
	t.Cleanup(release)
	return netip.AddrPortFrom(a, port)
}

func run(t *testing.T, p *Prober, addr netip.AddrPort, sock sockopt.Options, timeout time.Duration) probe.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	log := probe.NewLog(2)
	r := p.Probe(ctx, probe.Target{Host: addr.Addr().String(), Addr: addr, Socket: sock, Log: log})
	if t.Failed() || testing.Verbose() {
		t.Logf("%s: %s\n%s", exitcode.State(r.State), r.Summary, strings.Join(log.Lines(), "\n"))
	}
	return r
}

func TestProbe(t *testing.T) {
	rules(t)
	open4 := listen(t, "127.0.0.1:0", false).addrPort() // never accepts: a frozen application
	open6 := listen(t, "[::1]:0", false).addrPort()
	counted := listen(t, fmt.Sprintf("127.0.0.1:%d", portCount), false).addrPort()
	at := func(ip string, port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(ip), port) }

	for _, tc := range []struct {
		name    string
		addr    netip.AddrPort
		sock    sockopt.Options
		state   exitcode.State
		timeout bool
		err     error
		summary string
	}{
		{name: "open ipv4, application never accepts", addr: open4, state: exitcode.OK, summary: "port open (SYN+ACK) on 127.0.0.1:"},
		{name: "open ipv6", addr: open6, state: exitcode.OK, summary: "port open (SYN+ACK) on [::1]:"},
		{name: "closed ipv4", addr: closedPort(t, "127.0.0.1"), state: exitcode.Critical, err: ErrClosed, summary: "port closed (RST)"},
		{name: "closed ipv6", addr: closedPort(t, "::1"), state: exitcode.Critical, err: ErrClosed, summary: "port closed (RST) on [::1]:"},
		{name: "dropped ipv4", addr: at("127.0.0.1", portDrop), state: exitcode.Critical, timeout: true, err: ErrFiltered, summary: "no answer (filtered?) from 127.0.0.1:1081 to 2 SYNs"},
		{name: "dropped ipv6", addr: at("::1", portDrop), state: exitcode.Critical, timeout: true, err: ErrFiltered, summary: "no answer (filtered?)"},
		{name: "icmp admin-prohibited", addr: at("127.0.0.1", portProhib), state: exitcode.Critical, err: ErrUnreachable,
			summary: "127.0.0.1:1082 rejected: communication administratively prohibited (ICMP type 3 code 13) from 127.0.0.1"},
		{name: "icmpv6 admin-prohibited", addr: at("::1", portProhib), state: exitcode.Critical, err: ErrUnreachable,
			summary: "rejected: communication administratively prohibited (ICMPv6 type 1 code 1) from ::1"},
		{name: "icmp port unreachable", addr: at("127.0.0.1", portUnreach), state: exitcode.Critical, err: ErrUnreachable,
			summary: "port unreachable (ICMP type 3 code 3)"},
		{name: "icmpv6 port unreachable", addr: at("::1", portUnreach), state: exitcode.Critical, err: ErrUnreachable,
			summary: "port unreachable (ICMPv6 type 1 code 4)"},
		{name: "local firewall drops the syn", addr: at("127.0.0.1", portOutDrop), state: exitcode.Critical,
			summary: "send SYN to 127.0.0.1:1085: operation not permitted (local firewall?)"},
		{name: "bind", addr: counted, sock: sockopt.Options{Bind: netip.MustParseAddr("127.0.0.2")}, state: exitcode.OK},
		{name: "bind to an address not here", addr: open4, sock: sockopt.Options{Bind: netip.MustParseAddr("10.255.0.1")},
			state: exitcode.Unknown, err: sockopt.ErrSetup, summary: "bind 10.255.0.1"},
		{name: "bind of the other family", addr: open4, sock: sockopt.Options{Bind: netip.MustParseAddr("::1")},
			state: exitcode.Unknown, err: sockopt.ErrSetup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counter(t, "syn_drop")
			r := run(t, &Prober{}, tc.addr, tc.sock, 600*time.Millisecond)
			if r.State != tc.state || r.Timeout != tc.timeout {
				t.Errorf("state %v timeout %v, want %v %v: %s", r.State, r.Timeout, tc.state, tc.timeout, r.Summary)
			}
			if tc.err != nil && !errors.Is(r.Err, tc.err) {
				t.Errorf("error %v, want %v", r.Err, tc.err)
			}
			for _, ph := range r.Phases {
				if ph.Duration < 0 {
					t.Errorf("phase %s took %v", ph.Name, ph.Duration)
				}
			}
			if !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("summary %q, want it to contain %q", r.Summary, tc.summary)
			}
			if tc.timeout {
				// 600 ms: the first SYN and the one sent again after 250 ms.
				if n := counter(t, "syn_drop") - before; n != 2 {
					t.Errorf("%d SYNs reached the drop rule, want 2", n)
				}
			}
		})
	}
	if n := counter(t, "from_bind"); n != 1 {
		t.Errorf("--bind 127.0.0.2: %d SYNs left from it, want 1", n)
	}
}

// SO_MARK is on every packet the probe sends: the SYN and our own RST
// (the kernel's RST is not ours and carries no mark).
func TestMark(t *testing.T) {
	rules(t)
	l := listen(t, fmt.Sprintf("[::1]:%d", portCount), false)
	syn, rst := counter(t, "marked_syn"), counter(t, "marked_rst")
	r := run(t, &Prober{}, l.addrPort(), sockopt.Options{Mark: 0x2a}, time.Second)
	if r.State != exitcode.OK {
		t.Fatalf("%v: %s", r.State, r.Summary)
	}
	if d := counter(t, "marked_syn") - syn; d != 1 {
		t.Errorf("%d marked SYNs, want 1", d)
	}
	if d := counter(t, "marked_rst") - rst; d != 1 {
		t.Errorf("%d marked RSTs, want 1 (ours)", d)
	}
}

// The point of the check: many probes, and the application's accept()
// never returns a connection, while one real connect does show up.
func TestApplicationSeesNothing(t *testing.T) {
	l := listen(t, "127.0.0.1:0", true)
	p := &Prober{} // one raw socket for every probe, as attempts share it
	defer p.Close()
	for i := range 200 {
		if r := run(t, p, l.addrPort(), sockopt.Options{}, time.Second); r.State != exitcode.OK {
			t.Fatalf("probe %d: %v: %s", i, r.State, r.Summary)
		}
	}
	time.Sleep(100 * time.Millisecond) // let a wrongly accepted connection surface
	if n := l.accepted.Load(); n != 0 {
		t.Fatalf("the application accepted %d connections from half-open probes", n)
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	deadline := time.Now().Add(2 * time.Second)
	for l.accepted.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := l.accepted.Load(); n != 1 {
		t.Fatalf("a connect check was accepted %d times, want 1: the counter cannot see connections", n)
	}
}

// 200 probes at once, half to an open port, half to a closed one: every
// probe sees its own answer, none another's.
func TestConcurrent(t *testing.T) {
	open := listen(t, "127.0.0.1:0", false).addrPort()
	open6 := listen(t, "[::1]:0", false).addrPort()
	closed, closed6 := closedPort(t, "127.0.0.1"), closedPort(t, "::1")
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for i := range 200 {
		addr, want := open, exitcode.OK
		switch i % 4 {
		case 1:
			addr, want = closed, exitcode.Critical
		case 2:
			addr = open6
		case 3:
			addr, want = closed6, exitcode.Critical
		}
		wg.Go(func() {
			p := &Prober{}
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			r := p.Probe(ctx, probe.Target{Addr: addr, Log: probe.NewLog(0)})
			if r.State != want || (want == exitcode.Critical && !errors.Is(r.Err, ErrClosed)) {
				wrong.Add(1)
				t.Errorf("probe %d to %s: %v %s, want %v", i, addr, r.State, r.Summary, want)
			}
		})
	}
	wg.Wait()
	if n := wrong.Load(); n > 0 {
		t.Fatalf("%d of 200 verdicts wrong", n)
	}
}

// A cancelled context (SIGTERM in the binary) ends the wait at once.
func TestCancel(t *testing.T) {
	rules(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	p := &Prober{}
	defer p.Close()
	r := p.Probe(ctx, probe.Target{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), portDrop), Log: probe.NewLog(0)})
	if !r.Timeout || time.Since(start) > time.Second {
		t.Fatalf("after cancel: %+v in %v", r, time.Since(start))
	}
}

// An IPv6 link-local target needs its zone (fe80::5%eth0) in every socket
// address the probe uses: the source lookup, bind and the raw socket's
// sends. A veth pair gives this namespace a link-local address.
func TestLinkLocal(t *testing.T) {
	const dev, ll = "lbcll0", "fe80::5"
	for _, args := range [][]string{
		{"link", "add", dev, "type", "veth", "peer", "name", "lbcll1"},
		{"link", "set", "lbcll1", "up"},
		{"addr", "add", ll + "/64", "dev", dev, "nodad"},
		{"link", "set", dev, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", dev).Run() })
	// The listener's Addr comes back without its zone; targets carry one.
	zoned := netip.MustParseAddr(ll + "%" + dev)
	open := netip.AddrPortFrom(zoned, listen(t, "["+ll+"%"+dev+"]:0", false).addrPort().Port())
	closed := closedPort(t, zoned.String())
	for _, tc := range []struct {
		name    string
		addr    netip.AddrPort
		state   exitcode.State
		summary string
	}{
		{"open", open, exitcode.OK, "port open (SYN+ACK) on [fe80::5%lbcll0]:"},
		{"closed", closed, exitcode.Critical, "port closed (RST) on [fe80::5%lbcll0]:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, &Prober{}, tc.addr, sockopt.Options{}, time.Second)
			if r.State != tc.state || !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("%v %q (%v), want %v with %q", r.State, r.Summary, r.Err, tc.state, tc.summary)
			}
		})
		// The Mux gives the zone per packet: scope id and IPV6_PKTINFO.
		t.Run("mux "+tc.name, func(t *testing.T) {
			m := testMux(t)
			r := muxRun(t, m, tc.addr, sockopt.Options{}, time.Second)
			if r.State != tc.state || !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("%v %q (%v), want %v with %q", r.State, r.Summary, r.Err, tc.state, tc.summary)
			}
		})
	}
}
