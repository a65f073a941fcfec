package halfopen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// segment is a TCP header between two endpoints, as we send it or as it
// came back.
type segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	SYN, ACK bool
	RST, FIN bool
}

// TCP flag bits (RFC 9293), in byte 13 of the header.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagACK = 0x10
)

// encode serialises s as a TCP header with a valid checksum, ready for a
// raw IPPROTO_TCP socket (the kernel adds the IP header). Written by hand
// rather than with gopacket: its layer registry costs every run of the
// binary a quarter of a millisecond of package init, for 24 bytes.
// The tests decode it with gopacket.
func (s segment) encode() ([]byte, error) {
	if s.Src.Addr().Is4() != s.Dst.Addr().Is4() {
		return nil, fmt.Errorf("TCP segment from %s to %s: not one address family", s.Src.Addr(), s.Dst.Addr())
	}
	n := 20
	if s.SYN {
		n = 24
	}
	b := make([]byte, n)
	s.encodeTo(b)
	return b, nil
}

// encodeTo writes the TCP header into b (24 bytes for a SYN, else 20),
// allocating nothing; it returns its length. Both ends must be of one
// family.
func (s segment) encodeTo(b []byte) int {
	n := 20
	if s.SYN {
		// A SYN without options is rare enough that some middleboxes
		// treat it as a scan: ours carries MSS 1460.
		n = 24
	}
	b = b[:n]
	binary.BigEndian.PutUint16(b[0:], s.Src.Port())
	binary.BigEndian.PutUint16(b[2:], s.Dst.Port())
	binary.BigEndian.PutUint32(b[4:], s.Seq)
	binary.BigEndian.PutUint32(b[8:], s.Ack)
	b[12] = byte(n/4) << 4 // data offset in 32-bit words
	var f byte
	if s.FIN {
		f |= flagFIN
	}
	if s.SYN {
		f |= flagSYN
	}
	if s.RST {
		f |= flagRST
	}
	if s.ACK {
		f |= flagACK
	}
	b[13] = f
	binary.BigEndian.PutUint16(b[14:], 1024) // window
	b[16], b[17], b[18], b[19] = 0, 0, 0, 0  // checksum, urgent pointer
	if s.SYN {
		b[20], b[21], b[22], b[23] = 2, 4, 0x05, 0xb4 // kind MSS, length 4, 1460
	}
	binary.BigEndian.PutUint16(b[16:], checksum(s.Src.Addr(), s.Dst.Addr(), b))
	return n
}

// put writes the whole packet, IP header and TCP header, into b for an
// IPPROTO_RAW socket, allocating nothing (withIPHeader's rule); it returns
// its length.
func (s segment) put(b []byte) int {
	src, dst := s.Src.Addr(), s.Dst.Addr()
	if src.Is4() {
		n := 20 + s.encodeTo(b[20:])
		clear(b[:20])
		b[0] = 0x45 // version 4, IHL 5
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		binary.BigEndian.PutUint16(b[6:], 0x4000) // DF
		b[8] = muxTTL
		b[9] = 6 // TCP
		sa, da := src.As4(), dst.As4()
		copy(b[12:], sa[:])
		copy(b[16:], da[:])
		return n
	}
	tcp := s.encodeTo(b[40:])
	clear(b[:40])
	b[0] = 0x60 // version 6
	binary.BigEndian.PutUint16(b[4:], uint16(tcp))
	b[6] = 6 // TCP
	b[7] = muxTTL
	sa, da := src.As16(), dst.As16()
	copy(b[8:], sa[:])
	copy(b[24:], da[:])
	return 40 + tcp
}

// checksum is the TCP checksum of seg (its checksum field zero) under the
// pseudo-header of src and dst (RFC 9293 3.1, RFC 8200 8.1).
func checksum(src, dst netip.Addr, seg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	s16, d16 := src.As16(), dst.As16()
	if src.Is4() {
		add(s16[12:])
		add(d16[12:])
	} else {
		add(s16[:])
		add(d16[:])
	}
	sum += 6 + uint32(len(seg)) // protocol TCP, TCP length
	add(seg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// errShort is a packet too short to hold the headers we need.
var errShort = errors.New("truncated packet")

// parseIPv4 reads what an AF_INET raw socket delivers: the IPv4 header,
// then TCP. Checksums are not verified: on loopback and veth they are left
// to offload and arrive wrong. IP options are skipped, not read.
func parseIPv4(b []byte) (segment, error) {
	if len(b) < 20 {
		return segment{}, fmt.Errorf("IPv4 header: %w (%d bytes)", errShort, len(b))
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total == 0 {
		total = len(b) // segmentation offload leaves it 0
	}
	switch {
	case ihl < 20:
		return segment{}, fmt.Errorf("IPv4 header: length %d < 20", ihl)
	case total < ihl:
		return segment{}, fmt.Errorf("IPv4 header: length %d > total length %d", ihl, total)
	case ihl > len(b):
		return segment{}, fmt.Errorf("IPv4 header: %w (%d of %d bytes)", errShort, len(b), ihl)
	}
	if len(b) > total {
		b = b[:total]
	}
	if b[9] != 6 {
		return segment{}, fmt.Errorf("IPv4 protocol %d is not TCP", b[9])
	}
	if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
		return segment{}, errors.New("IPv4 fragment")
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	return parseTCP(b[ihl:], src, dst)
}

// parseTCP reads a TCP header whose addresses are known from elsewhere (an
// AF_INET6 raw socket delivers no IPv6 header; recvfrom names the source).
// Options are not read: ports, numbers and flags are all judge needs.
func parseTCP(b []byte, src, dst netip.Addr) (segment, error) {
	if len(b) < 20 {
		return segment{}, errShort
	}
	if off := int(b[12]>>4) * 4; off < 20 {
		return segment{}, fmt.Errorf("TCP header: data offset %d < 20", off)
	} else if off > len(b) {
		return segment{}, fmt.Errorf("TCP header: data offset %d beyond the %d bytes received", off, len(b))
	}
	f := b[13]
	return segment{
		Src: netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[0:])),
		Dst: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:])),
		Seq: binary.BigEndian.Uint32(b[4:]), Ack: binary.BigEndian.Uint32(b[8:]),
		SYN: f&flagSYN != 0, ACK: f&flagACK != 0, RST: f&flagRST != 0, FIN: f&flagFIN != 0,
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
