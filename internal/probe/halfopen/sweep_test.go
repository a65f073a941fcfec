package halfopen

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// fakeSend stands in for sendmmsg(2): it records each call's packets and
// answers as its rule says.
type fakeSend struct {
	mu    sync.Mutex
	calls [][]sentPacket
	rule  func(call int, pkts []sentPacket) (int, error)
}

type sentPacket struct {
	fd    int
	v6    bool
	dport uint16
	rst   bool
}

func packetOf(h *unix.Mmsghdr) []byte { return unsafe.Slice(h.Hdr.Iov.Base, h.Hdr.Iov.Len) }

func decodeSent(fd int, b []byte) sentPacket {
	p := sentPacket{fd: fd, v6: b[0]>>4 == 6}
	tcp := b[20:]
	if p.v6 {
		tcp = b[40:]
	}
	p.dport = binary.BigEndian.Uint16(tcp[2:])
	p.rst = tcp[13]&flagRST != 0
	return p
}

func (f *fakeSend) send(fd int, msgs []unix.Mmsghdr) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var pkts []sentPacket
	for i := range msgs {
		pkts = append(pkts, decodeSent(fd, packetOf(&msgs[i])))
	}
	n, err := len(msgs), error(nil)
	if f.rule != nil {
		n, err = f.rule(len(f.calls), pkts)
	}
	f.calls = append(f.calls, pkts[:n])
	return n, err
}

func (f *fakeSend) sent() map[uint16]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[uint16]int{}
	for _, c := range f.calls {
		for _, p := range c {
			m[p.dport]++
		}
	}
	return m
}

// refuse is sendmmsg(2) refusing the packet to port: it sends what comes
// before it and fails when it comes first, as the kernel does.
func refuse(port uint16, err error) func(int, []sentPacket) (int, error) {
	return func(_ int, p []sentPacket) (int, error) {
		for i, x := range p {
			if x.dport == port {
				if i == 0 {
					return 0, err
				}
				return i, nil
			}
		}
		return len(p), nil
	}
}

// The batch sender's edge cases, through an injected sendmmsg: a partial
// send sends the rest; a full queue (EAGAIN, ENOBUFS) is retried briefly,
// then its probes are UNKNOWN; EPERM fails that one packet's probe and
// the rest go; a sweep of both families goes out in batches of one family
// each.
func TestSweepBatching(t *testing.T) {
	const n = 100
	const base = 20000
	at := func(i int) uint16 { return uint16(base + i) }
	for _, tc := range []struct {
		name    string
		mixed   bool
		rule    func(call int, pkts []sentPacket) (int, error)
		failed  func(i int) bool // targets whose probe must be UNKNOWN
		errText string
		counter string
	}{
		{name: "all at once"},
		{name: "partial sends", rule: func(_ int, p []sentPacket) (int, error) { return min(len(p), 3), nil }},
		{name: "nothing sent, no error", rule: func(call int, p []sentPacket) (int, error) {
			if call%2 == 0 {
				return 0, nil
			}
			return len(p), nil
		}},
		{name: "EAGAIN, then room", rule: func(call int, p []sentPacket) (int, error) {
			if call < sendTries {
				return 0, unix.EAGAIN
			}
			return len(p), nil
		}},
		{name: "EAGAIN for good", rule: func(int, []sentPacket) (int, error) { return 0, unix.EAGAIN },
			failed: func(int) bool { return true }, errText: "resource temporarily unavailable", counter: "enobufs"},
		{name: "ENOBUFS for good", rule: func(int, []sentPacket) (int, error) { return 0, unix.ENOBUFS },
			failed: func(int) bool { return true }, errText: "no buffer space", counter: "enobufs"},
		{name: "EPERM for one packet", rule: refuse(at(5), unix.EPERM), failed: func(i int) bool { return i == 5 }, errText: "operation not permitted (local firewall?)", counter: "eperm"},
		{name: "EINVAL for the last", rule: refuse(at(n-1), unix.EINVAL), failed: func(i int) bool { return i == n-1 }, errText: "invalid argument", counter: "other"},
		{name: "both families", mixed: true},
		{name: "both families, partial", mixed: true, rule: func(_ int, p []sentPacket) (int, error) { return min(len(p), 7), nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMux(t)
			fake := &fakeSend{rule: tc.rule}
			m.sendmmsg = fake.send
			c := newCollector()
			ts := make([]*SweepTarget, n)
			for i := range ts {
				ip := "127.0.0.1"
				if tc.mixed && i%2 == 1 {
					ip = "::1"
				}
				ts[i] = sweepTarget(c, netip.AddrPortFrom(netip.MustParseAddr(ip), at(i)), 200*time.Millisecond, sockopt.Options{})
				if err := m.Register(ts[i]); err != nil {
					t.Fatal(err)
				}
			}
			m.Sweep(ts)
			c.wait(t, n, 3*time.Second)
			sent := fake.sent()
			for i, st := range ts {
				r, k := c.last(st)
				fail := tc.failed != nil && tc.failed(i)
				switch {
				case k != 1:
					t.Fatalf("target %d: %d Done calls", i, k)
				case fail && (r.State != exitcode.Unknown || !errors.Is(r.Err, ErrSendFailed) || !strings.Contains(r.Summary, tc.errText)):
					t.Errorf("target %d: %v %q (%v), want UNKNOWN, could not send: %s", i, r.State, r.Summary, r.Err, tc.errText)
				case !fail && (r.State != exitcode.Critical || !r.Timeout || sent[at(i)] != 1):
					// Nothing really left: silence, after exactly one SYN.
					t.Errorf("target %d: %v %q, its SYN sent %d times", i, r.State, r.Summary, sent[at(i)])
				}
			}
			families := map[bool]int{}
			for _, call := range fake.calls {
				for _, p := range call {
					if p.v6 != call[0].v6 || p.fd != call[0].fd {
						t.Fatalf("one sendmmsg call holds IPv4 and IPv6 packets: %+v", call)
					}
				}
				if len(call) > 0 {
					families[call[0].v6]++
				}
			}
			if tc.mixed && (families[false] == 0 || families[true] == 0) {
				t.Errorf("batches by family: %v", families)
			}
			s := m.Stats()
			if tc.counter != "" {
				want := uint64(0)
				for i := range n {
					if tc.failed(i) {
						want++
					}
				}
				if s.SendErrors[tc.counter] != want {
					t.Errorf("send errors %v, want %d %s", s.SendErrors, want, tc.counter)
				}
			}
			if tc.rule == nil && s.SentBatch.Count > uint64(n/sendBatch+2) {
				t.Errorf("%d sendmmsg calls for %d SYNs", s.SentBatch.Count, n)
			}
		})
	}
}

// endAll ends every probe of ts in flight, as if answered, without Done.
func endAll(m *Mux, ts []*SweepTarget) {
	m.sw.mu.Lock()
	for _, t := range ts {
		if t.s.inflight {
			m.endLocked(t, doneSilence)
		}
	}
	m.sw.mu.Unlock()
}

// Per packet, the send and receive paths allocate nothing: a sweep of 64
// targets of both families (SYNs built in place, sendmmsg), and a batch of
// replies read, validated, handed to their targets, and their RSTs sent.
// Only the verdict's words (probe.Result) are allocated, once per probe.
func TestSweepAllocatesNothing(t *testing.T) {
	m := testMux(t)
	fake := func(_ int, msgs []unix.Mmsghdr) (int, error) { return len(msgs), nil }
	m.sendmmsg = fake
	noop := func(*SweepTarget, probe.Result, time.Time) {}
	ts := make([]*SweepTarget, 64)
	for i := range ts {
		a := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+i))
		if i%2 == 1 {
			a = netip.AddrPortFrom(netip.MustParseAddr("::1"), uint16(20000+i))
		}
		ts[i] = &SweepTarget{Addr: a, Timeout: time.Minute, Done: noop}
		if err := m.Register(ts[i]); err != nil {
			t.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(100, func() {
		m.Sweep(ts)
		endAll(m, ts)
	}); a != 0 {
		t.Errorf("a sweep of %d targets: %v allocations, want 0", len(ts), a)
	}

	// A batch of SYN+ACKs for the IPv4 targets.
	f := &muxFamily{rd: newReaderState()} // IPv4, with buffers of its own: the Mux's reader runs too
	b := newBatch(false)
	var v4 []*SweepTarget
	for _, st := range ts {
		if st.Addr.Addr().Is4() {
			v4 = append(v4, st)
		}
	}
	m.Sweep(v4)
	for i, st := range v4 {
		s := segment{Src: st.s.remote, Dst: st.s.local, Seq: 7, Ack: st.s.isn + 1, SYN: true, ACK: true}
		pkt := ipv4Packet(t, s, 5)
		b.msgs[i].Len = uint32(copy(b.bufs[i][:], pkt))
	}
	rearm := func() {
		m.sw.mu.Lock()
		for _, st := range v4 {
			if !st.s.inflight {
				st.s.inflight = true
				m.sw.push(st)
			}
		}
		m.sw.mu.Unlock()
	}
	replies := m.Stats().Replies
	at := time.Now()
	if a := testing.AllocsPerRun(100, func() {
		rearm()
		for i := range v4 {
			m.handle(f, b, i, at)
		}
		m.sendRSTs(f.rd)
		if len(f.rd.dones) != len(v4) {
			t.Fatalf("%d of %d replies handed to their targets", len(f.rd.dones), len(v4))
		}
		clear(f.rd.dones)
		f.rd.dones = f.rd.dones[:0]
	}); a != 0 {
		t.Errorf("a batch of %d replies: %v allocations, want 0", len(v4), a)
	}
	if got := m.Stats().Replies - replies; got < uint64(100*len(v4)) {
		t.Errorf("%d replies counted", got)
	}
	// What the verdict's words cost, per probe: reported, not a packet's.
	d := sweepDone{t: v4[0], kind: doneAnswer, ans: open, at: at.Add(time.Millisecond), due: at, sent: at, syns: 1}
	t.Logf("a verdict's Result: %v allocations per probe", testing.AllocsPerRun(100, func() { _ = d.result() }))
	endAll(m, ts)
}

// Whatever arrives: a packet reaches a sweep probe only if it is the
// reply to its SYN (its 4-tuple, ack = ISN+1, SYN or RST), and the keyed
// hash validates nothing else. A reply for a probe sent under the
// previous secret still validates within the window (one rotation); after
// it, not.
func FuzzReplyValidation(f *testing.F) {
	local, remote := netip.MustParseAddrPort("10.0.0.1:40000"), peer
	m := newTestMux(f)
	now := time.Now()
	x := m.keys.isn(local, remote, now)
	target := func() *SweepTarget {
		return &SweepTarget{Addr: remote, Timeout: time.Second, Done: func(*SweepTarget, probe.Result, time.Time) {}}
	}
	arm := func(m *Mux, st *SweepTarget, isn uint32) {
		m.sw.mu.Lock()
		defer m.sw.mu.Unlock()
		if st.s.inflight {
			m.endLocked(st, doneSilence)
		}
		st.s = sweepSlot{registered: true, remote: remote, inflight: true, local: local, isn: isn, hidx: -1}
		m.sw.reg = map[netip.AddrPort]*SweepTarget{remote: st}
		m.sw.push(st)
	}

	// The window, once: a Mux of its own, its secret rotated by the clock.
	w, wt := newTestMux(f), target()
	old := w.keys.isn(local, remote, now)
	reply := func(isn uint32) segment {
		return segment{Src: remote, Dst: local, Ack: isn + 1, SYN: true, ACK: true}
	}
	for _, step := range []struct {
		name      string
		later     time.Duration
		delivered bool
	}{
		{"same secret", 0, true},
		{"previous secret, within the window", isnRotate + time.Second, true},
		{"two rotations later", 2*isnRotate + 2*time.Second, false},
	} {
		w.keys.current(now.Add(step.later))
		arm(w, wt, old)
		rd := newReaderState()
		w.dispatch(reply(old), now, rd)
		if got := len(rd.dones) == 1; got != step.delivered {
			f.Fatalf("%s: delivered %v, want %v", step.name, got, step.delivered)
		}
	}
	if w.Stats().Unmatched != 1 {
		f.Fatalf("the expired reply was not counted unmatched: %+v", w.Stats())
	}

	f.Add(ipv4Packet(f, reply(x), 5))
	f.Add(ipv4Packet(f, segment{Src: remote, Dst: local, Ack: x + 1, RST: true, ACK: true}, 6))
	f.Add(ipv4Packet(f, segment{Src: remote, Dst: local, Ack: x, SYN: true, ACK: true}, 5))
	f.Add(ipv4Packet(f, segment{Src: remote, Dst: netip.AddrPortFrom(local.Addr(), 40001), Ack: x + 1, SYN: true, ACK: true}, 5))
	f.Add([]byte{0x45, 0, 0, 20})
	st := target()
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseIPv4(b)
		if err != nil {
			return
		}
		arm(m, st, x)
		rd := newReaderState()
		m.dispatch(s, now, rd)
		ours := s.Src == remote && s.Dst == local && s.Ack == x+1 && s.ACK && (s.SYN || s.RST)
		if delivered := len(rd.dones) == 1; delivered != ours {
			t.Fatalf("%+v: delivered %v, want %v", s, delivered, ours)
		}
		if m.keys.valid(s.Dst, s.Src, s.Ack-1) && !(s.Src == remote && s.Dst == local && s.Ack == x+1) {
			t.Fatalf("%+v validates: a forged reply", s)
		}
	})
}

// The registry keeps the targets of one address in a chain: taking one
// out, first, middle or last, leaves the others findable, and the last
// one out leaves no entry behind.
func TestSweepRegistryChain(t *testing.T) {
	var sw sweepState
	sw.init()
	remote := netip.MustParseAddrPort("192.0.2.1:80")
	ts := make([]*SweepTarget, 4)
	for i := range ts {
		ts[i] = &SweepTarget{}
		ts[i].s = sweepSlot{registered: true, remote: remote}
		sw.list(ts[i])
	}
	chain := func() []int {
		var out []int
		for u := sw.reg[remote]; u != nil; u = u.s.same {
			out = append(out, slices.Index(ts, u))
		}
		return out
	}
	if got := chain(); !slices.Equal(got, []int{3, 2, 1, 0}) {
		t.Fatalf("chain %v, want [3 2 1 0]", got)
	}
	for _, step := range []struct {
		name string
		out  int
		want []int
	}{
		{"middle", 1, []int{3, 2, 0}},
		{"first", 3, []int{2, 0}},
		{"last", 0, []int{2}},
		{"only", 2, nil},
	} {
		sw.unlist(ts[step.out])
		if got := chain(); !slices.Equal(got, step.want) {
			t.Errorf("%s out: chain %v, want %v", step.name, got, step.want)
		}
		if ts[step.out].s.registered || ts[step.out].s.same != nil {
			t.Errorf("%s out: still marked registered or chained", step.name)
		}
	}
	if _, ok := sw.reg[remote]; ok {
		t.Error("an empty chain left an entry in the registry")
	}
}
