package halfopen

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Whatever arrives on the raw socket: parsing never panics, and anything
// judge would take as the answer to our SYN is let through by the BPF
// filter too (the kernel must never drop a real answer).
func FuzzParseIPv4(f *testing.F) {
	f.Add(ipv4Packet(f, segment{Src: peer, Dst: me, Seq: 1, Ack: isn + 1, SYN: true, ACK: true}, 5))
	f.Add(ipv4Packet(f, segment{Src: peer, Dst: me, Ack: isn + 1, RST: true, ACK: true}, 9))
	f.Add(ipv4Packet(f, segment{Src: me, Dst: peer, Seq: isn, SYN: true}, 5))
	f.Add([]byte{0x45, 0, 0, 20})
	vm4, err := bpf.NewVM(filter(true, me.Port(), peer.Port(), isn))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseIPv4(b)
		if err != nil {
			return
		}
		if judge(s, me, peer, isn) == unrelated {
			return
		}
		if n, err := vm4.Run(b); err != nil || n == 0 {
			t.Fatalf("judge takes %+v as an answer, the filter drops it (%d, %v)", s, n, err)
		}
	})
}

// A segment survives encode and parse unchanged, whatever its fields.
func FuzzSegmentRoundTrip(f *testing.F) {
	f.Add(uint16(40000), uint16(80), uint32(1), uint32(2), uint8(0x12))
	f.Add(uint16(1), uint16(65535), uint32(0xffffffff), uint32(0), uint8(0x14))
	f.Fuzz(func(t *testing.T, sport, dport uint16, seq, ack uint32, flags uint8) {
		s := segment{
			Src: netip.AddrPortFrom(me.Addr(), sport), Dst: netip.AddrPortFrom(peer.Addr(), dport),
			Seq: seq, Ack: ack,
			FIN: flags&1 != 0, SYN: flags&2 != 0, RST: flags&4 != 0, ACK: flags&16 != 0,
		}
		s.FIN = false // encode never sets FIN: we never send one
		got, err := parseIPv4(ipv4Packet(t, s, 5))
		if err != nil || got != s {
			t.Fatalf("round trip of %+v: %+v, %v", s, got, err)
		}
	})
}

// Whatever the error queue holds: no panic, and an error we report reads
// as one printable line.
func FuzzParseErrQueue(f *testing.F) {
	syn, _ := segment{Src: me, Dst: peer, Seq: isn, SYN: true}.encode()
	f.Add(errQueueMsg(false, unix.SO_EE_ORIGIN_ICMP, 3, 13, netip.MustParseAddr("10.0.0.254")), syn)
	f.Add(errQueueMsg(true, unix.SO_EE_ORIGIN_ICMP6, 1, 4, netip.MustParseAddr("fd00::1")), syn[:8])
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, oob, payload []byte) {
		e, _, _, _, err := parseErrQueue(oob, payload)
		if err != nil {
			return
		}
		text := e.Error()
		if text == "" || strings.ContainsAny(text, "\n\r|") {
			t.Fatalf("error text %q", text)
		}
	})
}

// Whatever the Mux's IPv4 socket reads: no panic, a probe gets exactly
// the packets judge calls its answer, and the shared filter lets each of
// those through (the kernel must never drop a real answer).
func FuzzDemux4(f *testing.F) {
	f.Add(ipv4Packet(f, segment{Src: peer, Dst: me, Seq: 1, Ack: isn + 1, SYN: true, ACK: true}, 5))
	f.Add(ipv4Packet(f, segment{Src: peer, Dst: me, Ack: isn + 1, RST: true, ACK: true}, 9))
	f.Add(ipv4Packet(f, segment{Src: me, Dst: peer, Seq: isn, SYN: true}, 5))
	f.Add(ipv4Packet(f, segment{Src: peer, Dst: me, Ack: isn, SYN: true, ACK: true}, 5))
	f.Add([]byte{0x45, 0, 0, 20})
	vm, err := bpf.NewVM(sharedFilter(true, testPorts))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ft := newFlowTable()
		w := ft.register(me, peer, isn)
		delivered := ft.receive4(b, time.Now())
		_, took := w.took()
		s, err := parseIPv4(b)
		answer := err == nil && judge(s, me, peer, isn) != unrelated
		if delivered != answer || took != answer {
			t.Fatalf("delivered %v, probe got it %v; judge says answer=%v (%+v, %v)", delivered, took, answer, s, err)
		}
		if answer {
			if n, err := vm.Run(b); err != nil || n == 0 {
				t.Fatalf("an answer (%+v) the shared filter drops (%d, %v)", s, n, err)
			}
		}
	})
}

// The same for the IPv6 socket, which reads the TCP header alone.
func FuzzDemux6(f *testing.F) {
	peer6 := netip.MustParseAddrPort("[fd00::2]:443")
	for _, s := range []segment{
		{Src: peer6, Dst: me6, Seq: 1, Ack: isn + 1, SYN: true, ACK: true},
		{Src: peer6, Dst: me6, Ack: isn + 1, RST: true, ACK: true},
		{Src: me6, Dst: peer6, Seq: isn, SYN: true},
	} {
		b, _ := s.encode()
		f.Add(b)
	}
	vm, err := bpf.NewVM(sharedFilter(false, testPorts))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ft := newFlowTable()
		w := ft.register(me6, peer6, isn)
		delivered := ft.receive6(b, peer6.Addr(), me6.Addr(), time.Now())
		_, took := w.took()
		s, err := parseTCP(b, peer6.Addr(), me6.Addr())
		answer := err == nil && judge(s, me6, peer6, isn) != unrelated
		if delivered != answer || took != answer {
			t.Fatalf("delivered %v, probe got it %v; judge says answer=%v (%+v, %v)", delivered, took, answer, s, err)
		}
		if answer {
			if n, err := vm.Run(b); err != nil || n == 0 {
				t.Fatalf("an answer (%+v) the shared filter drops (%d, %v)", s, n, err)
			}
		}
	})
}

// Whatever the error queue holds: no panic, and only an ICMP error that
// quotes the probe's own SYN reaches it.
func FuzzDemuxErrQueue(f *testing.F) {
	syn, _ := segment{Src: me, Dst: peer, Seq: isn, SYN: true}.encode()
	f.Add(errQueueMsg(false, unix.SO_EE_ORIGIN_ICMP, 3, 13, netip.MustParseAddr("10.0.0.254")), syn)
	f.Add(errQueueMsg(true, unix.SO_EE_ORIGIN_ICMP6, 1, 4, netip.MustParseAddr("fd00::1")), syn[:8])
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, oob, payload []byte) {
		ft := newFlowTable()
		w := ft.register(me, peer, isn)
		delivered := ft.receiveErr(oob, payload, peer.Addr(), time.Now())
		r, took := w.took()
		if delivered != took {
			t.Fatalf("delivered %v, probe got it %v", delivered, took)
		}
		if !delivered {
			return
		}
		_, sport, dport, seq, err := parseErrQueue(oob, payload)
		if err != nil || sport != me.Port() || dport != peer.Port() || seq != isn || r.icmp == nil {
			t.Fatalf("probe got %+v for a message quoting %d -> %d seq %d (%v)", r.icmp, sport, dport, seq, err)
		}
	})
}
