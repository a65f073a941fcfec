package main

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

func TestSynAck(t *testing.T) {
	cases := []struct {
		name         string
		src, dst     string
		sport, dport uint16
		seq, ack     uint32
	}{
		{"lab addresses", "10.99.0.2", "10.99.0.1", 80, 1024, 1, 2},
		{"high ports, all-ones numbers", "10.99.0.2", "10.99.0.1", 65535, 65535, 0xffffffff, 0xffffffff},
		{"zeros", "0.0.0.0", "0.0.0.0", 1, 1, 0, 0},
		{"odd bytes carry", "255.255.255.255", "1.2.3.4", 443, 61000, 0x01020304, 0xfffefdfc},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, dst := netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst)
			pkt := make([]byte, 40)
			for i := range pkt {
				pkt[i] = 0xaa // what was there before is overwritten
			}
			synAck(pkt, src, dst, c.sport, c.dport, c.seq, c.ack)
			if pkt[0] != 0x45 || binary.BigEndian.Uint16(pkt[2:]) != 40 || pkt[9] != 6 ||
				netip.AddrFrom4([4]byte(pkt[12:16])) != src || netip.AddrFrom4([4]byte(pkt[16:20])) != dst {
				t.Fatalf("IP header % x", pkt[:20])
			}
			tcp := pkt[20:]
			if binary.BigEndian.Uint16(tcp[0:]) != c.sport || binary.BigEndian.Uint16(tcp[2:]) != c.dport ||
				binary.BigEndian.Uint32(tcp[4:]) != c.seq || binary.BigEndian.Uint32(tcp[8:]) != c.ack {
				t.Errorf("ports or numbers: % x", tcp)
			}
			if tcp[12] != 0x50 || tcp[13] != 0x12 {
				t.Errorf("offset %#x flags %#x, want 0x50 and SYN+ACK 0x12", tcp[12], tcp[13])
			}
			// A receiver sums the pseudo-header and the segment, checksum
			// included: all ones when it is right.
			var sum uint32 = 6 + 20
			for _, b := range [][]byte{pkt[12:16], pkt[16:20], tcp} {
				for i := 0; i < len(b); i += 2 {
					sum += uint32(binary.BigEndian.Uint16(b[i:]))
				}
			}
			for sum > 0xffff {
				sum = sum&0xffff + sum>>16
			}
			if sum != 0xffff {
				t.Errorf("checksum %#04x: the receiver's sum is %#04x, want 0xffff", binary.BigEndian.Uint16(tcp[16:]), sum)
			}
		})
	}
}
