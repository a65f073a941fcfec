package halfopen

import (
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
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// sweepDone is what a test's Done saw.
type sweepGot struct {
	t    *SweepTarget
	r    probe.Result
	sent time.Time
}

// collector gathers the Done calls of a test's targets.
type collector struct {
	mu   sync.Mutex
	got  []sweepGot
	each map[*SweepTarget]int
	ch   chan struct{}
}

func newCollector() *collector {
	return &collector{each: map[*SweepTarget]int{}, ch: make(chan struct{}, 1<<16)}
}

func (c *collector) done(t *SweepTarget, r probe.Result, sent time.Time) {
	c.mu.Lock()
	c.got = append(c.got, sweepGot{t, r, sent})
	c.each[t]++
	c.mu.Unlock()
	c.ch <- struct{}{}
}

// wait waits for n more Done calls, failing the test after timeout.
func (c *collector) wait(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for i := range n {
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("%d of %d Done calls after %v", i, n, timeout)
		}
	}
}

func (c *collector) last(t *SweepTarget) (probe.Result, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.got) - 1; i >= 0; i-- {
		if c.got[i].t == t {
			return c.got[i].r, c.each[t]
		}
	}
	return probe.Result{}, 0
}

func sweepTarget(c *collector, addr netip.AddrPort, timeout time.Duration, sock sockopt.Options) *SweepTarget {
	return &SweepTarget{Addr: addr, Timeout: timeout, Socket: sock, Done: c.done}
}

// numbersRE blanks what differs from one probe to the next: times and
// ports.
var numbersRE = regexp.MustCompile(`[0-9]+\.[0-9]+( ms| s|s)`)

// A sweep says what Mux.Probe says, on every kind of port, in both
// families: the same State, Timeout, error and summary (times aside).
func TestSweepVerdicts(t *testing.T) {
	rules(t)
	m := testMux(t)
	at := func(ip string, port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(ip), port) }
	kinds := []struct {
		name string
		addr netip.AddrPort
	}{
		{"open ipv4", listen(t, "127.0.0.1:0", false).addrPort()},
		{"open ipv6", listen(t, "[::1]:0", false).addrPort()},
		{"ipv4-mapped", netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr("127.0.0.1").As16()), listen(t, "127.0.0.1:0", false).addrPort().Port())},
		{"closed ipv4", closedPort(t, "127.0.0.1")},
		{"closed ipv6", closedPort(t, "::1")},
		{"dropped ipv4", at("127.0.0.1", portDrop)},
		{"dropped ipv6", at("::1", portDrop)},
		{"admin-prohibited ipv4", at("127.0.0.1", portProhib)},
		{"admin-prohibited ipv6", at("::1", portProhib)},
		{"port-unreachable ipv4", at("127.0.0.1", portUnreach)},
		{"port-unreachable ipv6", at("::1", portUnreach)},
	}
	c := newCollector()
	var ts []*SweepTarget
	for _, k := range kinds {
		st := sweepTarget(c, k.addr, 600*time.Millisecond, sockopt.Options{})
		if err := m.Register(st); err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		ts = append(ts, st)
	}
	replies, synDrop := m.Stats().Replies, counter(t, "syn_drop")
	m.Sweep(ts)
	c.wait(t, len(ts), 5*time.Second)
	// The dropped ports' SYNs went twice each (at 0 and 250 ms of 600).
	if n := counter(t, "syn_drop") - synDrop; n != 4 {
		t.Errorf("%d SYNs reached the drop rule, want 2 for each of 2 targets", n)
	}
	for i, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			got, n := c.last(ts[i])
			if n != 1 {
				t.Errorf("%d Done calls, want 1", n)
			}
			want := muxRun(t, m, k.addr, sockopt.Options{}, 600*time.Millisecond)
			if got.State != want.State || got.Timeout != want.Timeout || (want.Err == nil) != (got.Err == nil) ||
				numbersRE.ReplaceAllString(got.Summary, "#") != numbersRE.ReplaceAllString(want.Summary, "#") {
				t.Errorf("sweep: %v timeout=%v %q (%v)\nprobe: %v timeout=%v %q (%v)",
					got.State, got.Timeout, got.Summary, got.Err, want.State, want.Timeout, want.Summary, want.Err)
			}
			for _, e := range []error{ErrClosed, ErrFiltered, ErrUnreachable} {
				if errors.Is(want.Err, e) != errors.Is(got.Err, e) {
					t.Errorf("sweep error %v, probe error %v", got.Err, want.Err)
				}
			}
			if len(got.Phases) != len(want.Phases) {
				t.Errorf("sweep phases %v, probe phases %v", got.Phases, want.Phases)
			}
		})
	}
	if s := m.Stats(); s.SweepInFlight != 0 || s.Replies-replies < uint64(len(ts)-2) || s.SentBatch.Count == 0 {
		t.Errorf("after the sweep: %+v", s)
	}
}

// anyIP makes every address of 10.99.0.0/16 local in this namespace, as
// the lab does for 65,536 backends, once.
var anyIPOnce sync.Once

func anyIP(t testing.TB) {
	t.Helper()
	var err error
	anyIPOnce.Do(func() {
		if out, e := exec.Command("ip", "route", "add", "local", "10.99.0.0/16", "dev", "lo").CombinedOutput(); e != nil {
			err = fmt.Errorf("ip route: %v: %s", e, out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// anyIPTargets is n targets on AnyIP addresses, all answered by one
// listener on 0.0.0.0.
func anyIPTargets(t testing.TB, n int) ([]netip.AddrPort, *listener) {
	anyIP(t)
	l := listen(t, "0.0.0.0:0", true)
	addrs := make([]netip.AddrPort, n)
	for i := range addrs {
		addrs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 99, byte(i >> 8), byte(i)}), l.addrPort().Port())
	}
	return addrs, l
}

// 2,000 targets in one sweep, twice: every one OK with exactly one Done
// per sweep, nothing accepted by the server, no half-made connection
// left, nothing late or unmatched, and the SYNs in full batches.
func TestSweepThousands(t *testing.T) {
	m := testMux(t)
	const n = 2000
	addrs, l := anyIPTargets(t, n)
	c := newCollector()
	ts := make([]*SweepTarget, n)
	for i, a := range addrs {
		ts[i] = sweepTarget(c, a, 2*time.Second, sockopt.Options{})
		if err := m.Register(ts[i]); err != nil {
			t.Fatal(err)
		}
	}
	before := m.Stats()
	for round := 1; round <= 2; round++ {
		start := time.Now()
		m.Sweep(ts)
		c.wait(t, n, 10*time.Second)
		t.Logf("round %d: %d probes in %v", round, n, time.Since(start))
		for i, st := range ts {
			r, k := c.last(st)
			if k != round || r.State != exitcode.OK || !strings.Contains(r.Summary, "port open (SYN+ACK) on "+addrs[i].String()) {
				t.Fatalf("target %d after round %d: %d Done calls, last %v %q", i, round, k, r.State, r.Summary)
			}
		}
	}
	s := m.Stats()
	t.Logf("%+v", s)
	// A SYN sent again (a slow machine: no answer within 250 ms) gets a
	// second answer, which is late; nothing else may be.
	sent := s.SentBatch.Sum - before.SentBatch.Sum
	if sent < 2*2*n {
		t.Errorf("%d packets sent, want at least a SYN and an RST per probe (%d)", sent, 4*n)
	}
	if late := s.Late - before.Late; s.Unmatched != before.Unmatched || late > sent-4*n || s.SweepInFlight != 0 {
		t.Errorf("late %d (SYNs sent again: %d), unmatched %d, in flight %d: want none", late, sent-4*n, s.Unmatched-before.Unmatched, s.SweepInFlight)
	}
	if calls := s.SentBatch.Count - before.SentBatch.Count; calls > uint64(4*n/8) {
		t.Errorf("%d sendmmsg calls for %d packets: the batches are small", calls, 4*n)
	}
	if k := synRecv(t, l.addrPort().Port()); k > n/100 {
		t.Errorf("%d connections left half-made (SYN-RECV)", k)
	}
	time.Sleep(50 * time.Millisecond)
	if a := l.accepted.Load(); a != 0 {
		t.Errorf("the server accepted %d connections", a)
	}
}

// A target already in flight is skipped: one Done per probe, however
// often Sweep names it.
func TestSweepSkipsInFlight(t *testing.T) {
	rules(t)
	m := testMux(t)
	c := newCollector()
	st := sweepTarget(c, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), portDrop), 300*time.Millisecond, sockopt.Options{})
	if err := m.Register(st); err != nil {
		t.Fatal(err)
	}
	m.Sweep([]*SweepTarget{st, st})
	m.Sweep([]*SweepTarget{st})
	c.wait(t, 1, 2*time.Second)
	time.Sleep(100 * time.Millisecond)
	if r, n := c.last(st); n != 1 || !r.Timeout {
		t.Errorf("%d Done calls, last %q; want one, no answer", n, r.Summary)
	}
	if err := m.Register(st); err == nil {
		t.Error("a target registered twice")
	}
}

// Unregister while a probe is in flight: it still gets its Done (here, by
// its deadline), and after that the target is gone: a later Sweep naming
// it says so, UNKNOWN.
func TestSweepUnregisterInFlight(t *testing.T) {
	rules(t)
	m := testMux(t)
	c := newCollector()
	drop := sweepTarget(c, netip.AddrPortFrom(netip.MustParseAddr("::1"), portDrop), 400*time.Millisecond, sockopt.Options{})
	open := sweepTarget(c, listen(t, "127.0.0.1:0", false).addrPort(), time.Second, sockopt.Options{})
	for _, st := range []*SweepTarget{drop, open} {
		if err := m.Register(st); err != nil {
			t.Fatal(err)
		}
	}
	m.Sweep([]*SweepTarget{drop, open})
	m.Unregister(drop)
	m.Unregister(open)
	c.wait(t, 2, 3*time.Second)
	if r, _ := c.last(drop); r.State != exitcode.Critical || !r.Timeout || !strings.Contains(r.Summary, "to 2 SYNs") {
		t.Errorf("dropped target unregistered in flight: %v %q", r.State, r.Summary)
	}
	if r, _ := c.last(open); r.State != exitcode.OK {
		t.Errorf("open target unregistered in flight: %v %q", r.State, r.Summary)
	}
	m.sw.mu.Lock()
	left := len(m.sw.reg)
	m.sw.mu.Unlock()
	if left != 0 {
		t.Errorf("%d addresses still registered", left)
	}
	m.Sweep([]*SweepTarget{drop})
	c.wait(t, 1, time.Second)
	if r, n := c.last(drop); n != 2 || r.State != exitcode.Unknown || !errors.Is(r.Err, sockopt.ErrSetup) {
		t.Errorf("a sweep of an unregistered target: %v %q (%v)", r.State, r.Summary, r.Err)
	}
	if err := m.Register(drop); err != nil {
		t.Errorf("registered again: %v", err)
	}
}

// Close while sweep probes wait: each gets its Done at once, UNKNOWN with
// ErrMuxClosed, and a Sweep after Close says the same.
func TestSweepClose(t *testing.T) {
	rules(t)
	m, err := OpenMux()
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	var ts []*SweepTarget
	for i := range 100 {
		ip := "127.0.0.1"
		if i%2 == 1 {
			ip = "::1"
		}
		st := sweepTarget(c, netip.AddrPortFrom(netip.MustParseAddr(ip), portDrop), 30*time.Second, sockopt.Options{})
		if err := m.Register(st); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, st)
	}
	m.Sweep(ts)
	time.Sleep(300 * time.Millisecond) // one retransmission each
	if s := m.Stats(); s.SweepInFlight != len(ts) {
		t.Fatalf("%d in flight, want %d", s.SweepInFlight, len(ts))
	}
	start := time.Now()
	m.Close()
	c.wait(t, len(ts), time.Second)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Done came %v after Close", d)
	}
	for _, st := range ts {
		if r, n := c.last(st); n != 1 || r.State != exitcode.Unknown || !errors.Is(r.Err, ErrMuxClosed) {
			t.Fatalf("after Close: %d Done calls, %v %q", n, r.State, r.Summary)
		}
	}
	m.Sweep(ts[:1])
	c.wait(t, 1, time.Second)
	if r, _ := c.last(ts[0]); r.State != exitcode.Unknown || !errors.Is(r.Err, ErrMuxClosed) {
		t.Errorf("a sweep after Close: %v %q", r.State, r.Summary)
	}
	if err := m.Register(&SweepTarget{Addr: ts[0].Addr, Timeout: time.Second, Done: c.done}); !errors.Is(err, ErrMuxClosed) {
		t.Errorf("Register after Close: %v", err)
	}
}

// What Register refuses, before any packet: could not check.
func TestSweepRegisterRefuses(t *testing.T) {
	m := testMux(t)
	c := newCollector()
	open4 := netip.MustParseAddrPort("127.0.0.1:80")
	for _, tc := range []struct {
		name string
		t    *SweepTarget
		says string
	}{
		{"multicast", sweepTarget(c, netip.MustParseAddrPort("224.0.0.1:80"), time.Second, sockopt.Options{}), "multicast"},
		{"mark not prepared", sweepTarget(c, open4, time.Second, sockopt.Options{Mark: 0x77}), "no raw socket with mark 0x77"},
		{"bind of the other family", sweepTarget(c, open4, time.Second, sockopt.Options{Bind: netip.MustParseAddr("::1")}), "not of one address family"},
		{"bind to an address not here", sweepTarget(c, open4, time.Second, sockopt.Options{Bind: netip.MustParseAddr("10.255.0.1")}), "bind 10.255.0.1"},
		{"no timeout", sweepTarget(c, open4, 0, sockopt.Options{}), "no Timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Register(tc.t)
			if !errors.Is(err, sockopt.ErrSetup) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Register: %v, want ErrSetup saying %q", err, tc.says)
			}
		})
	}
}

// A local firewall that drops our SYN makes the send fail with EPERM:
// UNKNOWN, naming it, never down; and counted.
func TestSweepFirewallEPERM(t *testing.T) {
	rules(t)
	m := testMux(t)
	c := newCollector()
	st := sweepTarget(c, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), portOutDrop), time.Second, sockopt.Options{})
	ok := sweepTarget(c, listen(t, "127.0.0.1:0", false).addrPort(), time.Second, sockopt.Options{})
	for _, x := range []*SweepTarget{st, ok} {
		if err := m.Register(x); err != nil {
			t.Fatal(err)
		}
	}
	m.Sweep([]*SweepTarget{st, ok})
	c.wait(t, 2, 3*time.Second)
	r, _ := c.last(st)
	if r.State != exitcode.Unknown || !errors.Is(r.Err, ErrSendFailed) || !strings.Contains(r.Summary, "operation not permitted") {
		t.Errorf("SYN refused by the firewall: %v %q (%v)", r.State, r.Summary, r.Err)
	}
	if r, _ := c.last(ok); r.State != exitcode.OK {
		t.Errorf("the other target of the batch: %v %q", r.State, r.Summary)
	}
	if s := m.Stats(); s.SendErrors["eperm"] != 1 {
		t.Errorf("send errors %v, want one eperm", s.SendErrors)
	}
}

// Item 4 live: a storm of 1,000 real connections (their SYN+ACKs come to
// ephemeral ports, outside the Mux's range) does not wake the reader: its
// read count and Unmatched stay as they were.
func TestForeignSynAcksNeverRead(t *testing.T) {
	m := testMux(t)
	l4, l6 := listen(t, "127.0.0.1:0", true), listen(t, "[::1]:0", true)
	before := m.Stats()
	for i := range 1000 {
		l := l4
		if i%2 == 1 {
			l = l6
		}
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
	time.Sleep(100 * time.Millisecond)
	s := m.Stats()
	if s.ReadBatch.Count != before.ReadBatch.Count || s.Unmatched != before.Unmatched {
		t.Errorf("1,000 foreign connections: %d reads, %d unmatched; want none", s.ReadBatch.Count-before.ReadBatch.Count, s.Unmatched-before.Unmatched)
	}
	// And the reader is awake for what is ours.
	if r := muxRun(t, m, l4.addrPort(), sockopt.Options{}, time.Second); r.State != exitcode.OK {
		t.Errorf("a probe after the storm: %v %q", r.State, r.Summary)
	}
}

// The reserved range is never handed out by the kernel's ephemeral choice,
// even when ip_local_port_range covers it; and the default range slides
// to the next free block if a port of it is taken, while an explicit range
// that is taken is an error naming the port.
func TestPortRangeReserved(t *testing.T) {
	m := testMux(t)
	r := m.Ports()
	const sysctl = "/proc/sys/net/ipv4/ip_local_port_range"
	old, err := os.ReadFile(sysctl)
	if err != nil {
		t.Fatal(err)
	}
	// 20 ports on each side of ours: the kernel must pick among those.
	if err := os.WriteFile(sysctl, fmt.Appendf(nil, "%d %d", r.First-20, r.Last+20), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(sysctl, old, 0) })
	l4, l6 := listen(t, "127.0.0.1:0", true), listen(t, "[::1]:0", true)
	seen := map[uint16]bool{}
	for i := range 1000 {
		l := l4
		if i%2 == 1 {
			l = l6
		}
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		p := conn.LocalAddr().(*net.TCPAddr).AddrPort().Port()
		seen[p] = true
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
		if r.contains(p) {
			t.Fatalf("connection %d got port %d, in the Mux's range %s", i, p, r)
		}
	}
	if len(seen) < 20 {
		t.Errorf("the kernel used %d ports: the test did not test", len(seen))
	}

	if r != DefaultPorts {
		t.Logf("this Mux has %s, not the default block (another Mux holds it)", r)
	}
	m2 := testMux(t)
	if m2.Ports() == r || m2.Ports().Len() != DefaultPorts.Len() || (m2.Ports().First-DefaultPorts.First)%uint16(DefaultPorts.Len()) != 0 {
		t.Errorf("a second Mux got %s beside %s, want the next free block of %d", m2.Ports(), r, DefaultPorts.Len())
	}
	if _, err := OpenMuxPorts(r); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d", r.First)) {
		t.Errorf("an explicit range that is taken: %v, want an error naming port %d", err, r.First)
	}
	explicit := PortRange{First: 50000, Last: 50009}
	m3, err := OpenMuxPorts(explicit)
	if err != nil {
		t.Fatal(err)
	}
	defer m3.Close()
	if m3.Ports() != explicit {
		t.Errorf("explicit range: got %s", m3.Ports())
	}
	if r := muxRun(t, m3, l4.addrPort(), sockopt.Options{}, time.Second); r.State != exitcode.OK {
		t.Errorf("a probe from the explicit range: %v %q", r.State, r.Summary)
	}
}

// The single path draws round-robin from the range and rests a port
// before it probes the same target again: with a range of 4 ports,
// probes to one target use each in turn, and a probe while all 4 are in
// flight to it is refused as could-not-check.
func TestSinglePathPorts(t *testing.T) {
	rules(t)
	m, err := OpenMuxPorts(PortRange{First: 50100, Last: 50103})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	open := listen(t, "127.0.0.1:0", false).addrPort()
	used := map[uint16]int{}
	for range 8 {
		w, err := m.acquire(netip.MustParseAddr("127.0.0.1"), open)
		if err != nil {
			t.Fatal(err)
		}
		used[w.local.Port()]++
		m.flows.remove(w)
	}
	for p := uint16(50100); p <= 50103; p++ {
		if used[p] != 2 {
			t.Errorf("port %d used %d times of 8, want 2: %v", p, used[p], used)
		}
	}
	var held []*waiter
	for range 4 {
		w, err := m.acquire(netip.MustParseAddr("127.0.0.1"), open)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, w)
	}
	r := muxRun(t, m, open, sockopt.Options{}, time.Second)
	if r.State != exitcode.Unknown || !errors.Is(r.Err, errNoPort) {
		t.Errorf("every port in flight: %v %q", r.State, r.Summary)
	}
	for _, w := range held {
		m.flows.remove(w)
	}
	if r := muxRun(t, m, open, sockopt.Options{}, time.Second); r.State != exitcode.OK {
		t.Errorf("a port free again: %v %q", r.State, r.Summary)
	}
}

// Two watches of one target (two modules): each probe gets its own port,
// and a single-path probe beside them a third, while both are in flight.
func TestSweepTwoWatchesOneTarget(t *testing.T) {
	m, err := OpenMuxPorts(PortRange{First: 50200, Last: 50202})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := newCollector()
	// A dropped port: the sweep's probes stay in flight until their
	// deadline, so the single probe below meets them in flight (an open
	// port on loopback may answer before it asks, and free the port).
	rules(t)
	addr := netip.MustParseAddrPort("127.0.0.1:" + strconv.Itoa(portDrop))
	a, b := sweepTarget(c, addr, 400*time.Millisecond, sockopt.Options{}), sweepTarget(c, addr, 400*time.Millisecond, sockopt.Options{})
	for _, st := range []*SweepTarget{a, b} {
		if err := m.Register(st); err != nil {
			t.Fatal(err)
		}
	}
	// The same rotation for both, and the single path's round-robin at
	// the same port: only the busy checks keep them apart.
	m.sw.mu.Lock()
	a.s.rot, b.s.rot = 0, 0
	m.sw.mu.Unlock()
	for round := 1; round <= 5; round++ {
		m.flows.mu.Lock()
		m.flows.rr = uint32(round - 1)
		m.flows.mu.Unlock()
		m.Sweep([]*SweepTarget{a, b})
		m.sw.mu.Lock()
		pa, pb := a.s.local.Port(), b.s.local.Port()
		m.sw.mu.Unlock()
		if pa == pb {
			t.Fatalf("round %d: both watches probe from port %d", round, pa)
		}
		w, err := m.acquire(netip.MustParseAddr("127.0.0.1"), addr)
		if err != nil {
			t.Fatal(err)
		}
		if p := w.local.Port(); p == pa || p == pb {
			t.Fatalf("round %d: a single probe got port %d, in flight for a sweep", round, p)
		}
		m.flows.remove(w)
		c.wait(t, 2, 2*time.Second)
		for _, st := range []*SweepTarget{a, b} {
			if r, n := c.last(st); n != round || r.State != exitcode.Critical || !r.Timeout {
				t.Fatalf("round %d: %d Done calls, %v %q", round, n, r.State, r.Summary)
			}
		}
	}
}

// A target with no route, and one whose source address the kernel stops
// accepting (EADDRNOTAVAIL: the address went away): could not check,
// UNKNOWN, and the second looks its route up again at the next sweep.
func TestSweepNoRoute(t *testing.T) {
	m := testMux(t)
	c := newCollector()
	noRoute := sweepTarget(c, netip.MustParseAddrPort("198.18.0.1:80"), time.Second, sockopt.Options{})
	gone := sweepTarget(c, netip.MustParseAddrPort("127.0.0.1:9"), 200*time.Millisecond, sockopt.Options{})
	for _, st := range []*SweepTarget{noRoute, gone} {
		if err := m.Register(st); err != nil {
			t.Fatal(err)
		}
	}
	m.sendmmsg = refuseAll(unix.EADDRNOTAVAIL)
	m.Sweep([]*SweepTarget{noRoute, gone})
	c.wait(t, 2, 2*time.Second)
	for _, st := range []*SweepTarget{noRoute, gone} {
		if r, _ := c.last(st); r.State != exitcode.Unknown || !errors.Is(r.Err, ErrSendFailed) {
			t.Errorf("%s: %v %q (%v), want UNKNOWN, could not send", st.Addr, r.State, r.Summary, r.Err)
		}
	}
	m.sw.mu.Lock()
	stale, at := gone.s.srcStale, gone.s.srcAt
	m.sw.mu.Unlock()
	if !stale {
		t.Fatal("EADDRNOTAVAIL did not mark the source for a new lookup")
	}
	m.sendmmsg = sendmmsg
	m.Sweep([]*SweepTarget{gone})
	c.wait(t, 1, 2*time.Second)
	m.sw.mu.Lock()
	defer m.sw.mu.Unlock()
	if gone.s.srcStale || gone.s.srcAt <= at {
		t.Error("the next sweep did not look the route up again")
	}
}

// refuseAll is a sendmmsg that refuses every packet with err.
func refuseAll(err error) func(int, []unix.Mmsghdr) (int, error) {
	return func(int, []unix.Mmsghdr) (int, error) { return 0, err }
}

// TestSweepResets: a swept open port is left with no half-made connection
// and its application accepts nothing; marked, with the kernel's unmarked
// RST dropped by the firewall (portNoRST), the sweep's own RST must do it.
func TestSweepResets(t *testing.T) {
	rules(t)
	m := testMux(t)
	if err := m.Prepare(sockopt.Options{Mark: 0x2a}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		port uint16
		sock sockopt.Options
	}{
		{"unmarked, the kernel's RST", 0, sockopt.Options{}},
		{"marked, the kernel's RST dropped", portNoRST, sockopt.Options{Mark: 0x2a}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCollector()
			var ts []*SweepTarget
			for _, host := range []string{"127.0.0.1", "::1"} {
				l := listen(t, netip.AddrPortFrom(netip.MustParseAddr(host), tc.port).String(), true)
				for range 25 {
					st := sweepTarget(c, l.addrPort(), 2*time.Second, tc.sock)
					if err := m.Register(st); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { m.Unregister(st) })
					ts = append(ts, st)
				}
				defer func() {
					if n := l.accepted.Load(); n != 0 {
						t.Errorf("%s accepted %d connections", l.Addr(), n)
					}
					if n := synRecv(t, l.addrPort().Port()); n != 0 {
						t.Errorf("%d connections left half-made (SYN-RECV) on %s", n, l.Addr())
					}
				}()
			}
			m.Sweep(ts)
			c.wait(t, len(ts), 5*time.Second)
			for _, st := range ts {
				if r, _ := c.last(st); r.State != exitcode.OK {
					t.Fatalf("%s: %v %q", st.Addr, r.State, r.Summary)
				}
			}
			time.Sleep(50 * time.Millisecond) // the RSTs arrive
		})
	}
}
