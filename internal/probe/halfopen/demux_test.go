package halfopen

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// register puts a probe with a known ISN in the table, as add does with a
// random one.
func (t *flowTable) register(local, remote netip.AddrPort, isn uint32) *waiter {
	w := &waiter{id: flowID{remote: remote, lport: local.Port()}, isn: isn, local: local, remote: remote, ch: make(chan reply, 1)}
	t.mu.Lock()
	t.flows[w.id] = w
	t.mu.Unlock()
	return w
}

// took returns what w was handed, if anything.
func (w *waiter) took() (reply, bool) {
	select {
	case r := <-w.ch:
		return r, true
	default:
		return reply{}, false
	}
}

// Which probe in flight a packet goes to: only the one whose 4-tuple it
// carries and whose ISN+1 it acknowledges.
func TestDemux(t *testing.T) {
	peer2 := netip.MustParseAddrPort("10.0.0.3:80")
	me2 := netip.AddrPortFrom(me.Addr(), 40001)
	other := netip.MustParseAddr("10.0.0.9")
	const isn2 = 12345
	type want struct {
		probe  int // 0 none, 1 the first probe, 2 the second
		answer answer
	}
	for _, tc := range []struct {
		name string
		s    segment
		want want
	}{
		{"syn+ack", segment{Src: peer, Dst: me, Seq: 9, Ack: isn + 1, SYN: true, ACK: true}, want{1, open}},
		{"rst+ack", segment{Src: peer, Dst: me, Ack: isn + 1, RST: true, ACK: true}, want{1, closed}},
		{"a reply for the other probe", segment{Src: peer2, Dst: me2, Seq: 1, Ack: isn2 + 1, SYN: true, ACK: true}, want{2, open}},
		{"the other probe's ack on our ports", segment{Src: peer, Dst: me, Ack: isn2 + 1, SYN: true, ACK: true}, want{}},
		{"our ack on the other probe's ports", segment{Src: peer2, Dst: me2, Ack: isn + 1, SYN: true, ACK: true}, want{}},
		{"wrong ack: isn", segment{Src: peer, Dst: me, Ack: isn, SYN: true, ACK: true}, want{}},
		{"wrong ack: isn+2", segment{Src: peer, Dst: me, Ack: isn + 2, RST: true, ACK: true}, want{}},
		{"our own syn seen on loopback", segment{Src: me, Dst: peer, Seq: isn, SYN: true}, want{}},
		{"our own syn, as if acked", segment{Src: me, Dst: peer, Seq: isn, Ack: isn + 1, SYN: true, ACK: true}, want{}},
		{"the kernel's rst on loopback", segment{Src: me, Dst: peer, Seq: isn + 1, RST: true}, want{}},
		{"our own rst", segment{Src: me, Dst: peer, Seq: isn + 1, RST: true}, want{}},
		{"challenge ack", segment{Src: peer, Dst: me, Seq: 5, Ack: 777, ACK: true}, want{}},
		{"plain ack with our ack", segment{Src: peer, Dst: me, Ack: isn + 1, ACK: true}, want{}},
		{"rst without ack", segment{Src: peer, Dst: me, Ack: isn + 1, RST: true}, want{}},
		{"syn+ack from another host", segment{Src: netip.AddrPortFrom(other, 80), Dst: me, Ack: isn + 1, SYN: true, ACK: true}, want{}},
		{"syn+ack from another port", segment{Src: netip.AddrPortFrom(peer.Addr(), 81), Dst: me, Ack: isn + 1, SYN: true, ACK: true}, want{}},
		{"syn+ack to another port", segment{Src: peer, Dst: netip.AddrPortFrom(me.Addr(), 40002), Ack: isn + 1, SYN: true, ACK: true}, want{}},
		{"syn+ack to another address of ours", segment{Src: peer, Dst: netip.AddrPortFrom(other, me.Port()), Ack: isn + 1, SYN: true, ACK: true}, want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFlowTable()
			w1 := ft.register(me, peer, isn)
			w2 := ft.register(me2, peer2, isn2)
			now := time.Now()
			delivered := ft.receive4(ipv4Packet(t, tc.s, 5), now)
			r1, got1 := w1.took()
			r2, got2 := w2.took()
			switch {
			case tc.want.probe == 0 && (delivered || got1 || got2):
				t.Fatalf("delivered (%v): first probe %v %+v, second %v %+v; want no probe", delivered, got1, r1, got2, r2)
			case tc.want.probe == 1 && (!got1 || got2 || r1.answer != tc.want.answer):
				t.Fatalf("first probe %v %+v, second %v; want the first to get %v", got1, r1, got2, tc.want.answer)
			case tc.want.probe == 2 && (!got2 || got1 || r2.answer != tc.want.answer):
				t.Fatalf("second probe %v %+v, first %v; want the second to get %v", got2, r2, got1, tc.want.answer)
			}
			if tc.want.probe != 0 && !delivered {
				t.Errorf("delivered but reported unmatched")
			}
			if r := map[int]reply{1: r1, 2: r2}[tc.want.probe]; tc.want.probe != 0 && (!r.at.Equal(now) || r.seg != tc.s) {
				t.Errorf("reply %+v, want the segment and its time", r)
			}
		})
	}
}

// The first answer wins: a second one (a retransmitted SYN+ACK, a late
// RST) neither blocks the reader nor replaces it.
func TestDemuxFirstAnswerWins(t *testing.T) {
	ft := newFlowTable()
	w := ft.register(me, peer, isn)
	synack := ipv4Packet(t, segment{Src: peer, Dst: me, Ack: isn + 1, SYN: true, ACK: true}, 5)
	rst := ipv4Packet(t, segment{Src: peer, Dst: me, Ack: isn + 1, RST: true, ACK: true}, 5)
	if !ft.receive4(synack, time.Now()) {
		t.Fatal("first answer not delivered")
	}
	if ft.receive4(rst, time.Now()) {
		t.Error("second answer delivered")
	}
	if r, _ := w.took(); r.answer != open {
		t.Errorf("probe got %v, want the first answer (open)", r.answer)
	}
	ft.remove(w)
	if ft.receive4(synack, time.Now()) || ft.len() != 0 {
		t.Error("a removed probe still gets answers")
	}
}

// IPv6 carries no IP header to the socket: the source comes from the
// socket address, the destination from IPV6_PKTINFO, and both count.
func TestDemuxIPv6(t *testing.T) {
	peer6 := netip.MustParseAddrPort("[fd00::2]:443")
	for _, tc := range []struct {
		name     string
		src, dst netip.Addr
		s        segment
		want     bool
	}{
		{"syn+ack", peer6.Addr(), me6.Addr(), segment{Src: peer6, Dst: me6, Ack: isn + 1, SYN: true, ACK: true}, true},
		{"no pktinfo", peer6.Addr(), netip.Addr{}, segment{Src: peer6, Dst: me6, Ack: isn + 1, SYN: true, ACK: true}, true},
		{"from another host", netip.MustParseAddr("fd00::9"), me6.Addr(), segment{Src: peer6, Dst: me6, Ack: isn + 1, SYN: true, ACK: true}, false},
		{"to another address of ours", peer6.Addr(), netip.MustParseAddr("fd00::8"), segment{Src: peer6, Dst: me6, Ack: isn + 1, SYN: true, ACK: true}, false},
		{"wrong ack", peer6.Addr(), me6.Addr(), segment{Src: peer6, Dst: me6, Ack: isn, SYN: true, ACK: true}, false},
		{"our own syn", me6.Addr(), peer6.Addr(), segment{Src: me6, Dst: peer6, Seq: isn, SYN: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFlowTable()
			w := ft.register(me6, peer6, isn)
			b, err := tc.s.encode()
			if err != nil {
				t.Fatal(err)
			}
			got := ft.receive6(b, tc.src, tc.dst, time.Now())
			if _, took := w.took(); got != tc.want || took != tc.want {
				t.Errorf("delivered %v (probe got it: %v), want %v", got, took, tc.want)
			}
		})
	}
}

// An ICMP error goes to the probe whose SYN it quotes: the quoted
// destination, ports and sequence number.
func TestDemuxICMP(t *testing.T) {
	router := netip.MustParseAddr("10.0.0.254")
	syn := func(src, dst netip.AddrPort, seq uint32) []byte {
		b, err := segment{Src: src, Dst: dst, Seq: seq, SYN: true}.encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	prohibited := errQueueMsg(false, unix.SO_EE_ORIGIN_ICMP, 3, 13, router)
	for _, tc := range []struct {
		name    string
		oob     []byte
		payload []byte
		dst     netip.Addr
		want    bool
	}{
		{"our syn", prohibited, syn(me, peer, isn), peer.Addr(), true},
		{"8 bytes quoted", prohibited, syn(me, peer, isn)[:8], peer.Addr(), true},
		{"another isn", prohibited, syn(me, peer, isn+1), peer.Addr(), false},
		{"another source port", prohibited, syn(netip.AddrPortFrom(me.Addr(), 1), peer, isn), peer.Addr(), false},
		{"another destination port", prohibited, syn(me, netip.AddrPortFrom(peer.Addr(), 81), isn), peer.Addr(), false},
		{"another destination", prohibited, syn(me, peer, isn), netip.MustParseAddr("10.0.0.7"), false},
		{"no destination", prohibited, syn(me, peer, isn), netip.Addr{}, false},
		{"a local error", errQueueMsg(false, unix.SO_EE_ORIGIN_LOCAL, 0, 0, netip.Addr{}), syn(me, peer, isn), peer.Addr(), false},
		{"too short", prohibited, syn(me, peer, isn)[:7], peer.Addr(), false},
		{"no control message", nil, syn(me, peer, isn), peer.Addr(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFlowTable()
			w := ft.register(me, peer, isn)
			got := ft.receiveErr(tc.oob, tc.payload, tc.dst, time.Now())
			r, took := w.took()
			if got != tc.want || took != tc.want {
				t.Fatalf("delivered %v (probe got it: %v), want %v", got, took, tc.want)
			}
			if tc.want && (r.icmp == nil || r.icmp.Type != 3 || r.icmp.Code != 13 || r.icmp.Reporter != router) {
				t.Errorf("probe got %+v, want the ICMP error from %s", r.icmp, router)
			}
		})
	}
}

// testPorts is the source port range of the unit tests: me's port is its
// first.
var testPorts = PortRange{First: 40000, Last: 40255}

// The shared filter lets through what could answer any probe, in the VM
// the kernel's would run, and nothing a probe never waits for: no segment
// to a port outside the Mux's range (every real connection's SYN+ACK).
func TestSharedFilter(t *testing.T) {
	frag := func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], 0x0010); return b }  // offset 16 bytes
	first := func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], 0x2000); return b } // more fragments, offset 0
	for _, tc := range []struct {
		name string
		s    segment
		ihl  int
		edit func([]byte) []byte
		pass bool
	}{
		{"syn+ack", segment{Src: peer, Dst: me, Ack: 1, SYN: true, ACK: true}, 5, nil, true},
		{"syn+ack with ip options", segment{Src: peer, Dst: me, Ack: 1, SYN: true, ACK: true}, 15, nil, true},
		{"rst+ack", segment{Src: peer, Dst: me, Ack: 1, RST: true, ACK: true}, 5, nil, true},
		{"syn+ack+fin", segment{Src: peer, Dst: me, Ack: 1, SYN: true, ACK: true, FIN: true}, 5, nil, true},
		{"first fragment", segment{Src: peer, Dst: me, Ack: 1, SYN: true, ACK: true}, 5, first, true},
		{"later fragment", segment{Src: peer, Dst: me, Ack: 1, SYN: true, ACK: true}, 5, frag, false},
		{"our syn", segment{Src: me, Dst: peer, Seq: 1, SYN: true}, 5, nil, false},
		{"the kernel's rst", segment{Src: me, Dst: peer, Seq: 1, RST: true}, 6, nil, false},
		{"plain ack", segment{Src: peer, Dst: me, Ack: 1, ACK: true}, 5, nil, false},
		{"fin+ack", segment{Src: peer, Dst: me, Ack: 1, ACK: true, FIN: true}, 5, nil, false},
		{"syn+ack to the last port", segment{Src: peer, Dst: netip.AddrPortFrom(me.Addr(), testPorts.Last), Ack: 1, SYN: true, ACK: true}, 5, nil, true},
		{"syn+ack below the range", segment{Src: peer, Dst: netip.AddrPortFrom(me.Addr(), testPorts.First-1), Ack: 1, SYN: true, ACK: true}, 5, nil, false},
		{"rst+ack above the range", segment{Src: peer, Dst: netip.AddrPortFrom(me.Addr(), testPorts.Last+1), Ack: 1, RST: true, ACK: true}, 5, nil, false},
		{"syn+ack above the range, ip options", segment{Src: peer, Dst: netip.AddrPortFrom(me.Addr(), testPorts.Last+1), Ack: 1, SYN: true, ACK: true}, 15, nil, false},
		{"a real connection's syn+ack", segment{Src: peer, Dst: netip.AddrPortFrom(me.Addr(), 45678), Ack: 1, SYN: true, ACK: true}, 5, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v4 := range []bool{true, false} {
				if !v4 && (tc.ihl != 5 || tc.edit != nil) {
					continue // IP header cases
				}
				var pkt []byte
				if v4 {
					pkt = ipv4Packet(t, tc.s, tc.ihl)
					if tc.edit != nil {
						pkt = tc.edit(pkt)
					}
				} else {
					var err error
					if pkt, err = tc.s.encode(); err != nil {
						t.Fatal(err)
					}
				}
				vm, err := bpf.NewVM(sharedFilter(v4, testPorts))
				if err != nil {
					t.Fatal(err)
				}
				n, err := vm.Run(pkt)
				if err != nil {
					t.Fatal(err)
				}
				if (n > 0) != tc.pass {
					t.Errorf("ipv4=%v: filter returned %d, want pass=%v", v4, n, tc.pass)
				}
				if tc.pass && n < 120 {
					t.Errorf("ipv4=%v: snap length %d cannot hold the headers", v4, n)
				}
			}
		})
	}
}

func TestPktinfoDst(t *testing.T) {
	dst := netip.MustParseAddr("fd00::1")
	pktinfo := make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
	putCmsgHeader(pktinfo, unix.SOL_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
	a := dst.As16()
	copy(pktinfo[unix.CmsgLen(0):], a[:])
	other := make([]byte, unix.CmsgSpace(4))
	putCmsgHeader(other, unix.SOL_IPV6, unix.IPV6_HOPLIMIT, 4)
	for _, tc := range []struct {
		name string
		oob  []byte
		want netip.Addr
	}{
		{"pktinfo", pktinfo, dst},
		{"after another message", append(append([]byte(nil), other...), pktinfo...), dst},
		{"none", other, netip.Addr{}},
		{"empty", nil, netip.Addr{}},
		{"truncated", pktinfo[:unix.CmsgLen(0)+8], netip.Addr{}},
		{"length past the end", append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, pktinfo[8:]...), netip.Addr{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pktinfoDst(tc.oob); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Memory stays bounded whatever arrives: reading a packet, ours or not,
// allocates nothing (the reader's buffers are its own, allocated once),
// and the table grows only with the probes in flight.
func TestDemuxAllocatesNothing(t *testing.T) {
	m := newTestMux(t)
	remote := netip.MustParseAddrPort("[fd00::2]:443")
	x := m.keys.isn(me6, remote, time.Now())
	w := m.flows.register(me6, remote, x)
	for _, tc := range []struct {
		name string
		s    segment
	}{
		{"unrelated", segment{Src: netip.MustParseAddrPort("[fd00::7]:1"), Dst: me6, Ack: 99, SYN: true, ACK: true}},
		{"ours", segment{Src: remote, Dst: me6, Ack: x + 1, SYN: true, ACK: true}},
		{"validates, no probe: late", segment{Src: remote, Dst: netip.AddrPortFrom(me6.Addr(), me6.Port()+1),
			Ack: m.keys.isn(netip.AddrPortFrom(me6.Addr(), me6.Port()+1), remote, time.Now()) + 1, SYN: true, ACK: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &muxFamily{v6: true, rd: newReaderState()}
			b := newBatch(true)
			b.reset(true)
			seg, err := tc.s.encode()
			if err != nil {
				t.Fatal(err)
			}
			b.msgs[0].Len = uint32(copy(b.bufs[0][:], seg))
			b.names[0] = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: tc.s.Src.Addr().As16()}
			putCmsgHeader(b.oob[0][:], unix.SOL_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
			dst := tc.s.Dst.Addr().As16()
			copy(b.oob[0][unix.CmsgLen(0):], dst[:])
			b.msgs[0].Hdr.SetControllen(unix.CmsgSpace(unix.SizeofInet6Pktinfo))
			at := time.Now()
			allocs := testing.AllocsPerRun(1000, func() {
				m.handle(f, b, 0, at)
				w.took()
			})
			if allocs != 0 {
				t.Errorf("%v allocations per packet, want 0", allocs)
			}
		})
	}
	if m.flows.len() != 1 {
		t.Errorf("table holds %d probes, want the 1 registered", m.flows.len())
	}
	if s := m.Stats(); s.Unmatched == 0 || s.Late == 0 {
		t.Errorf("unmatched %d, late %d: want both counted", s.Unmatched, s.Late)
	}
}

// newTestMux is a Mux without sockets, for what needs none.
func newTestMux(t testing.TB) *Mux {
	keys, err := newISNSecret(getrandom)
	if err != nil {
		t.Fatal(err)
	}
	m := &Mux{flows: newFlowTable(), keys: keys, ports: testPorts, done: make(chan struct{}), sendmmsg: sendmmsg}
	m.sw.init()
	return m
}
