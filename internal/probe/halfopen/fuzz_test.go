package halfopen

import (
	"net/netip"
	"strings"
	"testing"

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
