package halfopen

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A remote router's ICMP error comes while the probe waits, not while it
// sends (on loopback nft's reject answers inside the send itself). These
// helpers make that case: watch for the probe's SYN with a raw socket of
// the test's own, then send the ICMP error a router would, quoting it.

// sniffer sees every packet on loopback, ours included, before nft's input
// chain can drop it (a raw IP socket would see it only after): a packet
// socket. Open it before the probe starts.
type sniffer struct{ fd int }

func sniff(t *testing.T) *sniffer {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return &sniffer{fd}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// syn waits for a SYN to port dport and returns its source port and
// sequence number.
func (s *sniffer) syn(t *testing.T, v6 bool, dport uint16, within time.Duration) (uint16, uint32) {
	t.Helper()
	end := time.Now().Add(within)
	var buf [256]byte
	for time.Now().Before(end) {
		n, _, err := unix.Recvfrom(s.fd, buf[:], 0)
		if err != nil || n < 1 {
			continue
		}
		var seg segment
		switch {
		case !v6 && buf[0]>>4 == 4:
			seg, err = parseIPv4(buf[:n])
		case v6 && buf[0]>>4 == 6 && n >= 40 && buf[6] == unix.IPPROTO_TCP:
			seg, err = parseTCP(buf[40:n], netip.Addr{}, netip.Addr{})
		default:
			continue
		}
		if err == nil && seg.SYN && !seg.ACK && seg.Dst.Port() == dport {
			return seg.Src.Port(), seg.Seq
		}
	}
	t.Fatalf("no SYN to port %d seen within %v", dport, within)
	return 0, 0
}

// injectUnreachable sends, from loopback to loopback, the ICMP(v6)
// destination unreachable error a router sends about our SYN from sport
// to dport with sequence number seq: type 3 code 1 (host unreachable) or
// ICMPv6 type 1 code 3 (address unreachable).
func injectUnreachable(t *testing.T, v6 bool, sport, dport uint16, seq uint32) {
	t.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	proto, fam := unix.IPPROTO_ICMP, unix.AF_INET
	if v6 {
		lo, proto, fam = netip.MustParseAddr("::1"), unix.IPPROTO_ICMPV6, unix.AF_INET6
	}
	tcp, err := segment{Src: netip.AddrPortFrom(lo, sport), Dst: netip.AddrPortFrom(lo, dport), Seq: seq, SYN: true}.encode()
	if err != nil {
		t.Fatal(err)
	}
	quoted := withIPHeader(tcp, lo, lo)
	var msg []byte
	if v6 {
		// The kernel sums an ICMPv6 raw socket's messages itself.
		msg = append([]byte{1, 3, 0, 0, 0, 0, 0, 0}, quoted...)
	} else {
		binary.BigEndian.PutUint16(quoted[2:], uint16(len(quoted))) // the kernel filled it in on the way out
		msg = append([]byte{3, 1, 0, 0, 0, 0, 0, 0}, quoted...)
		binary.BigEndian.PutUint16(msg[2:], inetSum(msg))
	}
	fd, err := unix.Socket(fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sa, _ := sockaddr(netip.AddrPortFrom(lo, 0))
	if err := unix.Sendto(fd, msg, 0, sa); err != nil {
		t.Fatalf("send ICMP: %v", err)
	}
}

// inetSum is the Internet checksum of b (RFC 1071).
func inetSum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
