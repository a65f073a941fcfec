package halfopen

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	me   = netip.MustParseAddrPort("10.0.0.1:40000")
	peer = netip.MustParseAddrPort("10.0.0.2:80")
	me6  = netip.MustParseAddrPort("[fd00::1]:40000")
	isn  = uint32(0xfffffffe) // isn+1 wraps: the rule must too
)

// gopacketTCP is s as gopacket builds it: the independent encoder the
// hand-written parser is tested against.
func gopacketTCP(s segment) *layers.TCP {
	return &layers.TCP{
		SrcPort: layers.TCPPort(s.Src.Port()), DstPort: layers.TCPPort(s.Dst.Port()),
		Seq: s.Seq, Ack: s.Ack, SYN: s.SYN, ACK: s.ACK, RST: s.RST, FIN: s.FIN, Window: 1024,
	}
}

// ipv4Packet wraps a TCP header (built by gopacket, not by encode) in an
// IPv4 header, as an AF_INET raw socket delivers it; ihlWords > 5 adds IP
// options.
func ipv4Packet(t testing.TB, s segment, ihlWords int) []byte {
	t.Helper()
	tcp := gopacketTCP(s)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: s.Src.Addr().AsSlice(), DstIP: s.Dst.Addr().AsSlice()}
	for ihlWords > 5 {
		// NOP options, 4 bytes at a time
		ip.Options = append(ip.Options, layers.IPv4Option{OptionType: 1, OptionLength: 1},
			layers.IPv4Option{OptionType: 1, OptionLength: 1}, layers.IPv4Option{OptionType: 1, OptionLength: 1},
			layers.IPv4Option{OptionType: 1, OptionLength: 1})
		ihlWords--
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip, tcp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEncodeParseRoundTrip(t *testing.T) {
	for _, s := range []segment{
		{Src: me, Dst: peer, Seq: isn, SYN: true},
		{Src: me, Dst: peer, Seq: isn + 1, RST: true},
		{Src: peer, Dst: me, Seq: 7, Ack: isn + 1, SYN: true, ACK: true},
		{Src: peer, Dst: me, Ack: isn + 1, RST: true, ACK: true},
	} {
		got, err := parseIPv4(ipv4Packet(t, s, 5))
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		if got != s {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, s)
		}
	}
}

// What encode writes, gopacket reads back field for field, with the MSS
// option on a SYN and a checksum it verifies too.
func TestEncodeDecodesWithGopacket(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    segment
	}{
		{"syn v4", segment{Src: me, Dst: peer, Seq: isn, SYN: true}},
		{"rst v4", segment{Src: me, Dst: peer, Seq: isn + 1, RST: true}},
		{"syn+ack v4", segment{Src: peer, Dst: me, Seq: 7, Ack: isn + 1, SYN: true, ACK: true}},
		{"syn v6", segment{Src: me6, Dst: netip.MustParseAddrPort("[fd00::2]:443"), Seq: 1, SYN: true}},
		{"rst v6", segment{Src: me6, Dst: netip.MustParseAddrPort("[fd00::2]:443"), Seq: 2, RST: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.s.encode()
			if err != nil {
				t.Fatal(err)
			}
			var tcp layers.TCP
			if err := tcp.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
				t.Fatalf("gopacket cannot decode % x: %v", b, err)
			}
			got := segment{
				Src: netip.AddrPortFrom(tc.s.Src.Addr(), uint16(tcp.SrcPort)),
				Dst: netip.AddrPortFrom(tc.s.Dst.Addr(), uint16(tcp.DstPort)),
				Seq: tcp.Seq, Ack: tcp.Ack, SYN: tcp.SYN, ACK: tcp.ACK, RST: tcp.RST, FIN: tcp.FIN,
			}
			if got != tc.s || tcp.Window != 1024 || tcp.PSH || tcp.URG || tcp.ECE || tcp.CWR || tcp.NS {
				t.Errorf("gopacket reads %+v (window %d), want %+v", tcp, tcp.Window, tc.s)
			}
			wantOpts := 0
			if tc.s.SYN {
				wantOpts = 1
			}
			if len(tcp.Options) != wantOpts || (wantOpts == 1 && (tcp.Options[0].OptionType != layers.TCPOptionKindMSS ||
				string(tcp.Options[0].OptionData) != "\x05\xb4")) {
				t.Errorf("options %v, want MSS 1460 on a SYN only", tcp.Options)
			}
			// gopacket's own checksum of the same header must match ours.
			ref := gopacketTCP(tc.s)
			if tc.s.SYN {
				ref.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}
			}
			var nl gopacket.NetworkLayer = &layers.IPv4{SrcIP: tc.s.Src.Addr().AsSlice(), DstIP: tc.s.Dst.Addr().AsSlice(), Protocol: layers.IPProtocolTCP}
			if !tc.s.Src.Addr().Is4() {
				nl = &layers.IPv6{SrcIP: tc.s.Src.Addr().AsSlice(), DstIP: tc.s.Dst.Addr().AsSlice(), NextHeader: layers.IPProtocolTCP}
			}
			if err := ref.SetNetworkLayerForChecksum(nl); err != nil {
				t.Fatal(err)
			}
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, ref); err != nil {
				t.Fatal(err)
			}
			if string(buf.Bytes()) != string(b) {
				t.Errorf("encode:\n% x\ngopacket:\n% x", b, buf.Bytes())
			}
		})
	}
}

// The checksum must be the one a receiver verifies: over the pseudo-header
// of both addresses, for IPv4 and IPv6 alike.
func TestEncodeChecksum(t *testing.T) {
	for _, s := range []segment{
		{Src: me, Dst: peer, Seq: 12345, SYN: true},
		{Src: me6, Dst: netip.MustParseAddrPort("[fd00::2]:443"), Seq: 12345, SYN: true},
	} {
		b, err := s.encode()
		if err != nil {
			t.Fatal(err)
		}
		if sum := pseudoSum(s.Src.Addr(), s.Dst.Addr(), b); sum != 0xffff {
			t.Errorf("%s: checksum does not verify (sum %#04x)", s.Src, sum)
		}
		if len(b) != 24 || b[20] != 2 || b[21] != 4 {
			t.Errorf("%s: want a 24-byte header with the MSS option, got % x", s.Src, b)
		}
	}
}

// pseudoSum is the one's-complement sum a receiver computes: 0xffff when
// the checksum is right. Written independently of gopacket.
func pseudoSum(src, dst netip.Addr, tcp []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	sum += 6 + uint32(len(tcp))
	add(tcp)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

func TestParseIPv4Refuses(t *testing.T) {
	good := ipv4Packet(t, segment{Src: peer, Dst: me, Ack: 1, SYN: true, ACK: true}, 5)
	udp := append([]byte(nil), good...)
	udp[9] = 17
	frag := append([]byte(nil), good...)
	frag[7] = 8 // fragment offset 8
	for name, b := range map[string][]byte{
		"empty":          nil,
		"ip header only": good[:20],
		"short tcp":      good[:30],
		"udp":            udp,
		"fragment":       frag,
		"ihl too big":    append([]byte{0x4f}, good[1:24]...),
	} {
		if s, err := parseIPv4(b); err == nil {
			t.Errorf("%s: parsed as %+v, want an error", name, s)
		}
	}
}

func TestParseIPv4Options(t *testing.T) {
	s := segment{Src: peer, Dst: me, Seq: 1, Ack: isn + 1, SYN: true, ACK: true}
	got, err := parseIPv4(ipv4Packet(t, s, 8))
	if err != nil || got != s {
		t.Fatalf("with IP options: %+v, %v", got, err)
	}
}

func TestJudge(t *testing.T) {
	other := netip.MustParseAddrPort("10.0.0.3:80")
	for _, tc := range []struct {
		name string
		s    segment
		want answer
	}{
		{"syn+ack", segment{Src: peer, Dst: me, Seq: 9, Ack: isn + 1, SYN: true, ACK: true}, open},
		{"rst+ack", segment{Src: peer, Dst: me, Ack: isn + 1, RST: true, ACK: true}, closed},
		{"our own syn on loopback", segment{Src: me, Dst: peer, Seq: isn, SYN: true}, unrelated},
		{"the kernel's rst on loopback", segment{Src: me, Dst: peer, Seq: isn + 1, RST: true}, unrelated},
		{"challenge ack", segment{Src: peer, Dst: me, Seq: 5, Ack: 12345, ACK: true}, unrelated},
		{"syn+ack for another isn", segment{Src: peer, Dst: me, Ack: isn, SYN: true, ACK: true}, unrelated},
		{"rst without ack", segment{Src: peer, Dst: me, Ack: isn + 1, RST: true}, unrelated},
		{"syn+ack to another port", segment{Src: peer, Dst: netip.AddrPortFrom(me.Addr(), 40001), Ack: isn + 1, SYN: true, ACK: true}, unrelated},
		{"syn+ack from another port", segment{Src: netip.AddrPortFrom(peer.Addr(), 81), Dst: me, Ack: isn + 1, SYN: true, ACK: true}, unrelated},
		{"syn+ack from another host", segment{Src: other, Dst: me, Ack: isn + 1, SYN: true, ACK: true}, unrelated},
		{"plain ack", segment{Src: peer, Dst: me, Ack: isn + 1, ACK: true}, unrelated},
		{"ipv6 reply without addresses", segment{Src: netip.AddrPortFrom(netip.Addr{}, 80), Dst: netip.AddrPortFrom(netip.Addr{}, 40000), Ack: isn + 1, SYN: true, ACK: true}, open},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := judge(tc.s, me, peer, isn); got != tc.want {
				t.Errorf("judge = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseTCPShort(t *testing.T) {
	if _, err := parseTCP(make([]byte, 19), netip.Addr{}, netip.Addr{}); !errors.Is(err, errShort) {
		t.Errorf("19 bytes: %v, want errShort", err)
	}
}
