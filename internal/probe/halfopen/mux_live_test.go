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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/lab/gstate"
	"github.com/lbcheck/lbcheck/internal/lab/proctest"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
	"github.com/lbcheck/lbcheck/internal/target"
)

// testMux opens a Mux for one test and closes it after.
func testMux(t testing.TB) *Mux {
	t.Helper()
	m, err := OpenMux()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Missing(); err != nil {
		t.Fatalf("a family is missing: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func muxRun(t *testing.T, m *Mux, addr netip.AddrPort, sock sockopt.Options, timeout time.Duration) probe.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	log := probe.NewLog(2)
	r := m.Probe(ctx, probe.Target{Host: addr.Addr().String(), Addr: addr, Socket: sock, Log: log})
	if t.Failed() || testing.Verbose() {
		t.Logf("%s: %s\n%s", exitcode.State(r.State), r.Summary, strings.Join(log.Lines(), "\n"))
	}
	return r
}

// The Mux gives every verdict the Prober gives (TestProbe), in the same
// words, with one set of sockets for all of them.
func TestMuxProbe(t *testing.T) {
	rules(t)
	m := testMux(t)
	open4 := listen(t, "127.0.0.1:0", false).addrPort()
	open6 := listen(t, "[::1]:0", false).addrPort()
	at := func(ip string, port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(ip), port) }
	fromBind := counter(t, "from_bind")
	for _, tc := range []struct {
		name    string
		addr    netip.AddrPort
		sock    sockopt.Options
		state   exitcode.State
		timeout bool
		err     error
		summary string
	}{
		{name: "open ipv4", addr: open4, state: exitcode.OK, summary: "port open (SYN+ACK) on 127.0.0.1:"},
		{name: "open ipv6", addr: open6, state: exitcode.OK, summary: "port open (SYN+ACK) on [::1]:"},
		{name: "ipv4-mapped target", addr: netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr("127.0.0.1").As16()), open4.Port()),
			state: exitcode.OK, summary: "port open (SYN+ACK) on [::ffff:127.0.0.1]:"},
		{name: "closed ipv4", addr: closedPort(t, "127.0.0.1"), state: exitcode.Critical, err: ErrClosed, summary: "port closed (RST) on 127.0.0.1:"},
		{name: "closed ipv6", addr: closedPort(t, "::1"), state: exitcode.Critical, err: ErrClosed, summary: "port closed (RST) on [::1]:"},
		{name: "dropped ipv4", addr: at("127.0.0.1", portDrop), state: exitcode.Critical, timeout: true, err: ErrFiltered,
			summary: "no answer (filtered?) from 127.0.0.1:1081 to 2 SYNs"},
		{name: "dropped ipv6", addr: at("::1", portDrop), state: exitcode.Critical, timeout: true, err: ErrFiltered,
			summary: "no answer (filtered?) from [::1]:1081 to 2 SYNs"},
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
		{name: "bind", addr: listen(t, fmt.Sprintf("127.0.0.1:%d", portCount), false).addrPort(),
			sock: sockopt.Options{Bind: netip.MustParseAddr("127.0.0.2")}, state: exitcode.OK, summary: "port open (SYN+ACK)"},
		{name: "bind to an address not here", addr: open4, sock: sockopt.Options{Bind: netip.MustParseAddr("10.255.0.1")},
			state: exitcode.Unknown, err: sockopt.ErrSetup, summary: "bind 10.255.0.1"},
		{name: "bind of the other family", addr: open4, sock: sockopt.Options{Bind: netip.MustParseAddr("::1")},
			state: exitcode.Unknown, err: sockopt.ErrSetup, summary: "not of one address family"},
		{name: "a mark not prepared", addr: open4, sock: sockopt.Options{Mark: 0x77},
			state: exitcode.Unknown, err: sockopt.ErrSetup, summary: "no raw socket with mark 0x77"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counter(t, "syn_drop")
			r := muxRun(t, m, tc.addr, tc.sock, 600*time.Millisecond)
			if r.State != tc.state || r.Timeout != tc.timeout {
				t.Errorf("state %v timeout %v, want %v %v: %s", r.State, r.Timeout, tc.state, tc.timeout, r.Summary)
			}
			if tc.err != nil && !errors.Is(r.Err, tc.err) {
				t.Errorf("error %v, want %v", r.Err, tc.err)
			}
			if !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("summary %q, want it to contain %q", r.Summary, tc.summary)
			}
			for _, ph := range r.Phases {
				if ph.Duration < 0 {
					t.Errorf("phase %s took %v", ph.Name, ph.Duration)
				}
			}
			if tc.timeout {
				if n := counter(t, "syn_drop") - before; n != 2 {
					t.Errorf("%d SYNs reached the drop rule, want 2", n)
				}
			}
		})
	}
	if n := counter(t, "from_bind") - fromBind; n != 1 {
		t.Errorf("--bind 127.0.0.2: %d SYNs left from it, want 1", n)
	}
	if s := m.Stats(); s.InFlight != 0 {
		t.Errorf("%d probes still registered after all returned", s.InFlight)
	}
}

// A mark prepared before the probes is on the SYN and on our RST.
func TestMuxMark(t *testing.T) {
	rules(t)
	m := testMux(t)
	if err := m.Prepare(sockopt.Options{Mark: 0x2a}); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"127.0.0.1", "[::1]"} {
		t.Run(addr, func(t *testing.T) {
			l := listen(t, fmt.Sprintf("%s:%d", addr, portCount), false)
			syn, rst := counter(t, "marked_syn"), counter(t, "marked_rst")
			if r := muxRun(t, m, l.addrPort(), sockopt.Options{Mark: 0x2a}, time.Second); r.State != exitcode.OK {
				t.Fatalf("%v: %s", r.State, r.Summary)
			}
			if d := counter(t, "marked_syn") - syn; d != 1 {
				t.Errorf("%d marked SYNs, want 1", d)
			}
			if d := counter(t, "marked_rst") - rst; d != 1 {
				t.Errorf("%d marked RSTs, want 1 (ours)", d)
			}
			// Without the mark, the same target: nothing marked.
			syn = counter(t, "marked_syn")
			if r := muxRun(t, m, l.addrPort(), sockopt.Options{}, time.Second); r.State != exitcode.OK {
				t.Fatalf("unmarked: %v: %s", r.State, r.Summary)
			}
			if d := counter(t, "marked_syn") - syn; d != 0 {
				t.Errorf("an unmarked probe sent %d marked SYNs", d)
			}
		})
	}
}

// The test: 1,000 half-open probes in flight at once through the
// shared sockets, to open, closed and dropped ports of both families in
// this namespace. Every verdict is right, and the servers' accept()
// returns nothing.
func TestMuxThousand(t *testing.T) {
	rules(t)
	m := testMux(t)
	l4, l6 := listen(t, "127.0.0.1:0", true), listen(t, "[::1]:0", true)
	drop := func(ip string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(ip), portDrop) }
	kinds := []struct {
		addr    netip.AddrPort
		state   exitcode.State
		err     error
		summary string
	}{
		{l4.addrPort(), exitcode.OK, nil, "port open (SYN+ACK) on " + l4.addrPort().String()},
		{l6.addrPort(), exitcode.OK, nil, "port open (SYN+ACK) on " + l6.addrPort().String()},
		{closedPort(t, "127.0.0.1"), exitcode.Critical, ErrClosed, "port closed (RST) on 127.0.0.1:"},
		{closedPort(t, "::1"), exitcode.Critical, ErrClosed, "port closed (RST) on [::1]:"},
		{drop("127.0.0.1"), exitcode.Critical, ErrFiltered, "no answer (filtered?) from 127.0.0.1:1081"},
		{drop("::1"), exitcode.Critical, ErrFiltered, "no answer (filtered?) from [::1]:1081"},
	}
	const n = 1000
	dropped := 0
	for i := range n {
		if kinds[i%len(kinds)].err == ErrFiltered {
			dropped++
		}
	}
	synDrop, replies := counter(t, "syn_drop"), m.Stats().Replies
	var wg sync.WaitGroup
	var wrong atomic.Int64
	var inFlight atomic.Int64
	maxInFlight := 0
	var mu sync.Mutex
	start := make(chan struct{})
	for i := range n {
		k := kinds[i%len(kinds)]
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			inFlight.Add(1)
			r := m.Probe(ctx, probe.Target{Addr: k.addr, Log: probe.NewLog(0)})
			mu.Lock()
			maxInFlight = max(maxInFlight, int(inFlight.Add(-1)+1))
			mu.Unlock()
			ok := r.State == k.state && strings.Contains(r.Summary, k.summary) && (k.err == nil) == (r.Err == nil) &&
				(k.err == nil || errors.Is(r.Err, k.err)) && r.Timeout == (k.err == ErrFiltered)
			if !ok {
				if wrong.Add(1) <= 10 {
					t.Errorf("probe %d to %s: %v %q (%v), want %v %q", i, k.addr, r.State, r.Summary, r.Err, k.state, k.summary)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if w := wrong.Load(); w > 0 {
		t.Fatalf("%d of %d verdicts wrong", w, n)
	}
	t.Logf("%d probes, up to %d in flight at once; %+v", n, maxInFlight, m.Stats())
	if maxInFlight < n/2 {
		t.Errorf("at most %d probes were in flight at once: the test did not test concurrency", maxInFlight)
	}
	if got := counter(t, "syn_drop") - synDrop; got < dropped {
		t.Errorf("%d SYNs reached the drop rule, want at least one for each of %d probes", got, dropped)
	}
	if s := m.Stats(); s.InFlight != 0 || s.Replies-replies != uint64(n-dropped) {
		t.Errorf("after the probes: %d in flight, %d answers handed out, want 0 and %d", s.InFlight, s.Replies-replies, n-dropped)
	}
	// Zero accepts. A real connection now must be the first accept():
	// the accept queue is FIFO, so a connection a probe had completed
	// would have come out before it.
	for _, l := range []*listener{l4, l6} {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		deadline := time.Now().Add(2 * time.Second)
		for l.accepted.Load() < 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := l.accepted.Load(); got != 1 {
			t.Errorf("%s accepted %d connections, want only the test's own (1): the probes opened %d", l.Addr(), got, got-1)
		}
	}
}

// Close while probes wait: each returns at once, UNKNOWN (could not
// check, never "down"), and so does a probe started after; the readers
// have ended when Close returns.
func TestMuxClose(t *testing.T) {
	rules(t)
	before := counter(t, "syn_drop")
	m, err := OpenMux()
	if err != nil {
		t.Fatal(err)
	}
	drop4 := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), portDrop)
	drop6 := netip.AddrPortFrom(netip.MustParseAddr("::1"), portDrop)
	const n = 50
	results := make(chan probe.Result, n)
	for i := range n {
		addr := drop4
		if i%2 == 1 {
			addr = drop6
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			results <- m.Probe(ctx, probe.Target{Addr: addr, Log: probe.NewLog(0)})
		}()
	}
	// Close once every probe has sent its SYN again (250 ms after the
	// first): the next is then 500 ms away, so a probe that returns
	// sooner was ended by Close, not by its next send failing.
	deadline := time.Now().Add(5 * time.Second)
	for counter(t, "syn_drop")-before < 2*n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := m.Stats().InFlight; got != n {
		t.Fatalf("%d probes waiting, want %d", got, n)
	}
	m.Close()
	closed := time.Now()
	for _, f := range m.fams {
		select {
		case <-f.done:
		default:
			t.Errorf("%s reader still running after Close", famName(f.v6))
		}
	}
	// Thirty seconds of deadline left: only Close can end them now.
	timeout := time.After(5 * time.Second)
	for i := range n {
		select {
		case r := <-results:
			if r.State != exitcode.Unknown || !errors.Is(r.Err, ErrMuxClosed) || r.Timeout {
				t.Errorf("probe %d after Close: %v %q (%v)", i, r.State, r.Summary, r.Err)
			}
		case <-timeout:
			t.Fatalf("%d of %d probes still waiting after Close", n-i, n)
		}
	}
	if d := time.Since(closed); d > 400*time.Millisecond {
		t.Errorf("the probes took %v to return after Close: they waited for their next SYN", d)
	}
	r := m.Probe(context.Background(), probe.Target{Addr: drop4, Log: probe.NewLog(0)})
	if r.State != exitcode.Unknown || !errors.Is(r.Err, ErrMuxClosed) {
		t.Errorf("probe after Close: %v %q", r.State, r.Summary)
	}
	var none *Mux
	spec := none.Spec()
	if mod, err := check.ParseModule(&spec, []string{"-t", "1"}); err != nil {
		t.Errorf("a nil Mux's Spec does not parse a module: %v", err)
	} else if r := mod.Options.Probe(context.Background(), probe.Target{Addr: drop4, Log: probe.NewLog(0)}); r.State != exitcode.Unknown {
		t.Errorf("probe through a nil Mux: %v %q", r.State, r.Summary)
	}
	if err := m.Prepare(sockopt.Options{Mark: 1}); !errors.Is(err, ErrMuxClosed) {
		t.Errorf("Prepare after Close: %v", err)
	}
	m.Close() // twice is fine
}

// A cancelled context ends a probe's wait at once, as the Prober's.
func TestMuxCancel(t *testing.T) {
	rules(t)
	m := testMux(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	r := m.Probe(ctx, probe.Target{Addr: netip.AddrPortFrom(netip.MustParseAddr("::1"), portDrop), Log: probe.NewLog(0)})
	if !r.Timeout || !errors.Is(r.Err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("after cancel: %+v in %v", r, time.Since(start))
	}
}

// A flood of packets that pass the shared filter (SYN+ACKs and RST+ACKs
// for no probe: other ports, wrong acks, other hosts) while probes run:
// every verdict is still right, the flood is counted as unmatched, and
// nothing stays registered.
func TestMuxFlood(t *testing.T) {
	m := testMux(t)
	open4, open6 := listen(t, "127.0.0.1:0", false).addrPort(), listen(t, "[::1]:0", false).addrPort()
	closed4 := closedPort(t, "127.0.0.1")
	stop := make(chan struct{})
	var sent atomic.Int64
	var flood sync.WaitGroup
	for _, v6 := range []bool{false, true} {
		flood.Go(func() {
			lo, peer := netip.MustParseAddr("127.0.0.1"), open4
			if v6 {
				lo, peer = netip.MustParseAddr("::1"), open6
			}
			fd, err := rawSocket(v6, unix.IPPROTO_RAW, false)
			if err != nil {
				t.Error(err)
				return
			}
			defer unix.Close(fd)
			sa, _ := sockaddr(netip.AddrPortFrom(lo, 0))
			for i := uint32(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// From the open port (as a real answer would be) to
				// every port of the Mux's range (the filter drops the
				// rest), with every ack: none answers a probe, short of
				// guessing its ISN.
				s := segment{Src: peer, Dst: netip.AddrPortFrom(lo, m.Ports().port(i)), Seq: i, Ack: i * 2654435761, ACK: true, SYN: i%2 == 0, RST: i%2 == 1}
				tcp, _ := s.encode()
				if unix.Sendto(fd, withIPHeader(tcp, lo, lo), 0, sa) == nil {
					sent.Add(1)
				}
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.Stats().Unmatched < 1000 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for i := range 300 {
		addr, want := open4, exitcode.OK
		switch i % 3 {
		case 1:
			addr = open6
		case 2:
			addr, want = closed4, exitcode.Critical
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			r := m.Probe(ctx, probe.Target{Addr: addr, Log: probe.NewLog(0)})
			if r.State != want || !strings.Contains(r.Summary, addr.String()) {
				wrong.Add(1)
				t.Errorf("probe %d to %s under the flood: %v %s", i, addr, r.State, r.Summary)
			}
		})
	}
	wg.Wait()
	close(stop)
	flood.Wait()
	s := m.Stats()
	t.Logf("flood: %d packets sent, %+v", sent.Load(), s)
	if s.Unmatched < 1000 {
		t.Errorf("%d packets counted unmatched: the flood did not reach the reader", s.Unmatched)
	}
	if s.InFlight != 0 {
		t.Errorf("%d probes still registered", s.InFlight)
	}
	if wrong.Load() > 0 {
		t.Fatalf("%d of 300 verdicts wrong under the flood", wrong.Load())
	}
}

// The daemon's module: halfopen's command line without HOST and PORT,
// parsed by the same code, probing through the Mux. One parsed module
// serves concurrent requests, and says what the binary says.
func TestMuxSpec(t *testing.T) {
	rules(t)
	m := testMux(t)
	spec := m.Spec()
	if spec.Name != Spec.Name || spec.Command != Spec.Command {
		t.Fatalf("spec %q %q, want the binary's %q %q", spec.Name, spec.Command, Spec.Name, Spec.Command)
	}
	open4 := listen(t, "127.0.0.1:0", false).addrPort()
	closed6 := closedPort(t, "::1")
	numbers := regexp.MustCompile(`[0-9]+\.[0-9]+( ms| s|s)|time=[^ ]*|:[0-9]{4,5}\b`)
	for _, tc := range []struct {
		name string
		args []string
		addr netip.AddrPort
	}{
		{"open", []string{"-t", "2"}, open4},
		{"closed, two attempts", []string{"-t", "2", "--attempts", "2", "--retry-delay", "0.01"}, closed6},
		{"dropped, timeout state", []string{"-t", "0.3", "--timeout-state", "unknown"}, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), portDrop)},
		{"warning threshold", []string{"-w", "0.000001"}, open4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod, err := check.ParseModule(&spec, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			bin := Spec
			bin.New = func() check.Options { return &Options{Prober: &Prober{}} }
			cmd, err := check.Parse(&bin, append(tc.args, tc.addr.Addr().String(), fmt.Sprint(tc.addr.Port())))
			if err != nil {
				t.Fatal(err)
			}
			defer cmd.Options.(*Options).Close()
			// The caller owns the deadline, as the plugin and the daemon do.
			ctx, cancel := context.WithTimeout(context.Background(), cmd.Deadline)
			want := cmd.Run(ctx, cmd.Target, nil)
			cancel()
			wantLine := numbers.ReplaceAllString(want.Line(Spec.Name), "#")
			tg := target.Spec{Host: tc.addr.Addr().String(), IP: tc.addr.Addr(), Port: tc.addr.Port()}
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), mod.Deadline)
					defer cancel()
					v := mod.Run(ctx, tg, nil)
					if got := numbers.ReplaceAllString(v.Line(Spec.Name), "#"); got != wantLine {
						t.Errorf("module says %q\n  binary says %q", v.Line(Spec.Name), want.Line(Spec.Name))
					}
				})
			}
			wg.Wait()
		})
	}
}

var muxcaps = proctest.Binary{Name: "muxcaps", Pkg: "./testdata/muxcaps", Env: []string{"CGO_ENABLED=0"}}

// lbcheckd's start-up, in a process of its own: the Mux and a mark's
// sockets opened, then every capability dropped on every thread, and the
// probes still work; only a mark that was not prepared cannot be added.
func TestMuxAfterDropCaps(t *testing.T) {
	rules(t)
	bin := muxcaps.Path(t, t.TempDir())
	counted := listen(t, fmt.Sprintf("[::1]:%d", portCount), false).addrPort()
	marked := counter(t, "marked_syn")
	out, err := exec.Command(bin,
		"open4="+listen(t, "127.0.0.1:0", false).addrPort().String(),
		"open6="+listen(t, "[::1]:0", false).addrPort().String(),
		"closed4="+closedPort(t, "127.0.0.1").String(),
		"dropped6="+netip.AddrPortFrom(netip.MustParseAddr("::1"), portDrop).String(),
		"prohibited4="+netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), portProhib).String(),
		"marked6="+counted.String()+"/0x2a",
		"unprepared="+counted.String()+"/0x2b",
	).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := map[string][]string{}
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(l, "\t", 3)
		if len(f) == 3 {
			lines[f[0]] = f[1:]
		}
	}
	t.Logf("\n%s", out)
	if th := lines["threads"]; len(th) != 2 || !strings.HasPrefix(th[1], th[0]+" ") {
		t.Errorf("capabilities left after DropCaps: %v", th)
	}
	for _, tc := range []struct{ label, state, summary string }{
		{"open4", "OK", "port open (SYN+ACK)"},
		{"open6", "OK", "port open (SYN+ACK)"},
		{"closed4", "CRITICAL", "port closed (RST)"},
		{"dropped6", "CRITICAL", "no answer (filtered?)"},
		{"prohibited4", "CRITICAL", "communication administratively prohibited (ICMP type 3 code 13)"},
		{"marked6", "OK", "port open (SYN+ACK)"},
		{"unprepared", "UNKNOWN", "no raw socket with mark 0x2b"},
		{"prepare-after-drop", "true", "operation not permitted"},
	} {
		got := lines[tc.label]
		if len(got) != 2 || got[0] != tc.state || !strings.Contains(got[1], tc.summary) {
			t.Errorf("%s: %q, want %s with %q", tc.label, got, tc.state, tc.summary)
		}
	}
	if d := counter(t, "marked_syn") - marked; d != 1 {
		t.Errorf("%d SYNs with mark 0x2a after the drop, want 1", d)
	}
}

// synRecv counts the server's half-made connections (SYN-RECV) on port,
// as /proc/net/tcp and tcp6 list them.
func synRecv(t *testing.T, port uint16) int {
	t.Helper()
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for l := range strings.SplitSeq(string(b), "\n") {
			// sl local_address rem_address st ...
			fs := strings.Fields(l)
			if len(fs) > 3 && strings.HasSuffix(fs[1], fmt.Sprintf(":%04X", port)) && fs[3] == "03" {
				n++
			}
		}
	}
	return n
}

// Our own RST after the SYN+ACK is what clears the server's half-made
// connection when a host firewall drops the kernel's RST (here: every
// unmarked RST to the port; our probes carry a mark): no SYN-RECV entry
// is left, and nothing is accepted.
func TestMuxResetsWhenKernelRSTDropped(t *testing.T) {
	rules(t)
	m := testMux(t)
	if err := m.Prepare(sockopt.Options{Mark: 0x2a}); err != nil {
		t.Fatal(err)
	}
	ls := []*listener{listen(t, fmt.Sprintf("127.0.0.1:%d", portNoRST), true), listen(t, fmt.Sprintf("[::1]:%d", portNoRST), true)}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			l := ls[i%2]
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			r := m.Probe(ctx, probe.Target{Addr: l.addrPort(), Socket: sockopt.Options{Mark: 0x2a}, Log: probe.NewLog(0)})
			if r.State != exitcode.OK {
				t.Errorf("probe %d: %v %s", i, r.State, r.Summary)
			}
		})
	}
	wg.Wait()
	if n := synRecv(t, portNoRST); n != 0 {
		t.Errorf("%d connections left half-made (SYN-RECV) on the servers", n)
	}
	// A real connection must be the first accept(): FIFO, as in
	// TestMuxThousand.
	for _, l := range ls {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		deadline := time.Now().Add(2 * time.Second)
		for l.accepted.Load() < 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := l.accepted.Load(); got != 1 {
			t.Errorf("%s accepted %d connections, want only the test's own (1)", l.Addr(), got)
		}
	}
}

// Every RST lost (ours and the kernel's): the server keeps its half-made
// connection for a minute, and a SYN with a new ISN on the same 4-tuple
// gets only a bare ACK. The next probe of the same target must come from
// another port, or a working port reads as filtered.
func TestMuxAfterLostRST(t *testing.T) {
	rules(t)
	m := testMux(t)
	for _, addr := range []string{"127.0.0.1", "[::1]"} {
		t.Run(addr, func(t *testing.T) {
			l := listen(t, fmt.Sprintf("%s:%d", addr, portLostRST), false)
			// Another target between two probes of l: a port that probed
			// it must still rest from l (the pool once remembered only a
			// port's last target, reused the port for l at once, and met
			// the SYN-RECV its lost RST had left: "filtered").
			// Two ports, so that the round-robin alone would reuse one.
			other := listen(t, fmt.Sprintf("%s:0", addr), false)
			small, err := OpenMuxPorts(PortRange{First: 50210, Last: 50211})
			if err != nil {
				t.Fatal(err)
			}
			defer small.Close()
			for i := range 3 {
				if r := muxRun(t, m, l.addrPort(), sockopt.Options{}, time.Second); r.State != exitcode.OK {
					t.Fatalf("probe %d: %v %s", i+1, r.State, r.Summary)
				}
			}
			for i, a := range []netip.AddrPort{l.addrPort(), other.addrPort(), l.addrPort()} {
				if i == 2 {
					// The secret rotates: a reused 4-tuple's SYN would no
					// longer be the one its SYN-RECV entry knows (with the
					// same secret it is, and the server just answers it
					// again).
					rotateNow(t, small)
				}
				if r := muxRun(t, small, a, sockopt.Options{}, time.Second); r.State != exitcode.OK {
					t.Fatalf("probe %d of %s from two ports: %v %s", i+1, a, r.State, r.Summary)
				}
			}
		})
	}
}

// A host without IPv6 (socket(AF_INET6) fails) still probes IPv4; an IPv6
// target is UNKNOWN, never CRITICAL. Without privilege for either family,
// OpenMux says so.
func TestMuxMissingFamily(t *testing.T) {
	noV6 := func(v6 bool) (int, error) {
		if v6 {
			return -1, fmt.Errorf("%w: %v", sockopt.ErrSetup, unix.EAFNOSUPPORT)
		}
		return openReceiver(v6)
	}
	m, err := openMux(noV6, PortRange{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Missing(); err == nil || !strings.Contains(err.Error(), "IPv6") {
		t.Errorf("Missing() = %v, want the IPv6 socket's error", err)
	}
	if err := m.Prepare(sockopt.Options{Mark: 0x2a}); err != nil {
		t.Errorf("Prepare with IPv6 missing: %v", err)
	}
	open4 := listen(t, "127.0.0.1:0", false).addrPort()
	if r := muxRun(t, m, open4, sockopt.Options{Mark: 0x2a}, time.Second); r.State != exitcode.OK {
		t.Errorf("IPv4 without IPv6: %v %s", r.State, r.Summary)
	}
	r := muxRun(t, m, listen(t, "[::1]:0", false).addrPort(), sockopt.Options{}, time.Second)
	if r.State != exitcode.Unknown || !errors.Is(r.Err, sockopt.ErrSetup) || !strings.Contains(r.Summary, "no IPv6 raw socket") {
		t.Errorf("IPv6 target without IPv6: %v %q", r.State, r.Summary)
	}

	none := func(bool) (int, error) { return -1, fmt.Errorf("%w: %v", ErrNoPrivilege, unix.EPERM) }
	if m, err := openMux(none, PortRange{}); !errors.Is(err, ErrNoPrivilege) || m != nil {
		t.Errorf("no family: %v, %v; want ErrNoPrivilege", m, err)
	}
}

// rotateNow makes m's ISN secret rotate at once, as it does every
// isnRotate.
func rotateNow(t *testing.T, m *Mux) {
	t.Helper()
	k := m.keys.keys.Load()
	m.keys.keys.Store(&isnKeys{cur: k.cur, prev: k.prev, at: k.at.Add(-isnRotate)})
	if m.keys.current(time.Now()).cur == k.cur {
		t.Fatal("the ISN secret did not rotate")
	}
}

// TestMuxReaderParks: an idle Mux's readers wait in Go's poller, not in a
// system call. A goroutine blocked in recvmmsg(2) holds its P in a
// system call, and the runtime's monitor then wakes every 20 us to take
// it back: on this VM that cost a watched probe a third of its CPU.
func TestMuxReaderParks(t *testing.T) {
	testMux(t)
	var states []string
	for range 100 { // until both readers are parked
		time.Sleep(10 * time.Millisecond)
		states = readerStates()
		if len(states) == 2 && states[0] == states[1] && states[0] != "running" && states[0] != "runnable" {
			break
		}
	}
	if len(states) != 2 {
		t.Fatalf("found %d readers, want one for each family: %q", len(states), states)
	}
	for _, s := range states {
		if s != "IO wait" {
			t.Errorf("an idle reader is %q, want \"IO wait\" (parked in the poller)", s)
		}
	}
}

// readerStates is the state of every goroutine in (*Mux).read.
func readerStates() []string { return gstate.Of("halfopen.(*Mux).read") }
