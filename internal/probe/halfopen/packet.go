package halfopen

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// mss is the MSS option our SYN carries: a SYN without options is rare
// enough that some middleboxes treat it as a scan.
var mss = []byte{0x05, 0xb4} // 1460

// segment is a TCP header between two endpoints, as we send it or as it
// came back.
type segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	SYN, ACK bool
	RST, FIN bool
}

// encode serialises s as a TCP header with a valid checksum, ready for a
// raw IPPROTO_TCP socket (the kernel adds the IP header).
func (s segment) encode() ([]byte, error) {
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(s.Src.Port()),
		DstPort: layers.TCPPort(s.Dst.Port()),
		Seq:     s.Seq,
		Ack:     s.Ack,
		SYN:     s.SYN,
		ACK:     s.ACK,
		RST:     s.RST,
		Window:  1024,
	}
	if s.SYN {
		tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: mss}}
	}
	// The checksum covers a pseudo-header of both addresses: gopacket
	// computes it from a network layer that is never serialised.
	var err error
	if s.Src.Addr().Is4() {
		err = tcp.SetNetworkLayerForChecksum(&layers.IPv4{
			SrcIP: s.Src.Addr().AsSlice(), DstIP: s.Dst.Addr().AsSlice(), Protocol: layers.IPProtocolTCP})
	} else {
		err = tcp.SetNetworkLayerForChecksum(&layers.IPv6{
			SrcIP: s.Src.Addr().AsSlice(), DstIP: s.Dst.Addr().AsSlice(), NextHeader: layers.IPProtocolTCP})
	}
	if err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	err = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, tcp)
	return buf.Bytes(), err
}

// errShort is a packet too short to hold the headers we need.
var errShort = errors.New("truncated packet")

// parseIPv4 reads what an AF_INET raw socket delivers: the IPv4 header,
// then TCP. Checksums are not verified: on loopback and veth they are left
// to offload and arrive wrong.
func parseIPv4(b []byte) (segment, error) {
	var ip layers.IPv4
	if err := ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		return segment{}, fmt.Errorf("IPv4 header: %w", err)
	}
	if ip.Protocol != layers.IPProtocolTCP {
		return segment{}, fmt.Errorf("IPv4 protocol %d is not TCP", ip.Protocol)
	}
	if ip.FragOffset != 0 {
		return segment{}, errors.New("IPv4 fragment")
	}
	src, _ := netip.AddrFromSlice(ip.SrcIP)
	dst, _ := netip.AddrFromSlice(ip.DstIP)
	return parseTCP(ip.Payload, src, dst)
}

// parseTCP reads a TCP header whose addresses are known from elsewhere (an
// AF_INET6 raw socket delivers no IPv6 header; recvfrom names the source).
func parseTCP(b []byte, src, dst netip.Addr) (segment, error) {
	var tcp layers.TCP
	// 20 bytes hold ports, numbers and flags: options may be cut off.
	if len(b) < 20 {
		return segment{}, errShort
	}
	if err := tcp.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		return segment{}, fmt.Errorf("TCP header: %w", err)
	}
	return segment{
		Src: netip.AddrPortFrom(src, uint16(tcp.SrcPort)),
		Dst: netip.AddrPortFrom(dst, uint16(tcp.DstPort)),
		Seq: tcp.Seq, Ack: tcp.Ack,
		SYN: tcp.SYN, ACK: tcp.ACK, RST: tcp.RST, FIN: tcp.FIN,
	}, nil
}

// answer is what a segment says about our SYN.
type answer int

const (
	unrelated answer = iota // not a reply to our SYN
	open                    // SYN+ACK
	closed                  // RST+ACK
)

// judge decides whether s answers the SYN we sent from local to remote
// with sequence number isn. Only the peer's reply on our 4-tuple that
// acknowledges exactly isn+1 counts; our own SYN (seen on loopback), the
// kernel's RST, a challenge ACK or another probe's reply do not.
func judge(s segment, local, remote netip.AddrPort, isn uint32) answer {
	if s.Src.Port() != remote.Port() || s.Dst.Port() != local.Port() || !s.ACK || s.Ack != isn+1 {
		return unrelated
	}
	// An AF_INET6 reply carries no addresses of its own: the zero Addr
	// means "as the connected socket filtered it".
	if (s.Src.Addr().IsValid() && s.Src.Addr() != remote.Addr()) || (s.Dst.Addr().IsValid() && s.Dst.Addr() != local.Addr()) {
		return unrelated
	}
	switch {
	case s.RST:
		return closed
	case s.SYN:
		return open
	}
	return unrelated
}
