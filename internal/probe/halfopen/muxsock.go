package halfopen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/privilege"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// Socket sizes of the Mux. A burst of replies (a thousand probes sent at
// once) must fit the receive queue while the reader catches up; what does
// not fit is dropped by the kernel and answered again after the probe's
// retransmission.
const (
	muxRcvBuf = 4 << 20
	muxSndBuf = 1 << 20
	// muxTTL is the hop limit of our packets: we write the IP header.
	muxTTL = 64
)

// rawSocket opens a raw socket; nonblock for the ones Go's poller serves.
func rawSocket(v6 bool, proto int, nonblock bool) (int, error) {
	fam := unix.AF_INET
	if v6 {
		fam = unix.AF_INET6
	}
	// Before the socket exists: a caller must never be able to take it
	// from a process that has dropped the privilege it was opened with.
	if err := privilege.Seal(); err != nil {
		return -1, fmt.Errorf("%w: %v", sockopt.ErrSetup, err)
	}
	typ := unix.SOCK_RAW | unix.SOCK_CLOEXEC
	if nonblock {
		typ |= unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(fam, typ, proto)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return -1, fmt.Errorf("%w: %v", ErrNoPrivilege, err)
		}
		return -1, fmt.Errorf("%w: %v", sockopt.ErrSetup, err)
	}
	return fd, nil
}

// recvErr turns on the error queue: ICMP errors about what we sent come
// back to the socket that sent it.
func recvErr(fd int, v6 bool) error {
	if v6 {
		return unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
	}
	return unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_RECVERR, 1)
}

// openReceiver opens the family's receiving socket: raw IPPROTO_TCP,
// neither bound nor connected (every probe's replies come to it), the
// shared filter, the ICMP error queue on, and for IPv6 the destination
// address of each packet (IPV6_PKTINFO), which its header would have said.
// The Mux hands it to Go's poller (muxFamily.poll). An ICMP error wakes
// the reader too, as the socket's pending error, after which the error
// queue is read.
func openReceiver(v6 bool) (int, error) {
	fd, err := rawSocket(v6, unix.IPPROTO_TCP, false)
	if err != nil {
		return -1, err
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("%w: %s: %v", sockopt.ErrSetup, what, err)
	}
	// Nothing until the Mux has its ports and attaches the shared filter.
	if err := attachFilter(fd, dropAll()); err != nil {
		return fail("BPF filter", err)
	}
	if v6 {
		if err := unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
			return fail("IPV6_RECVPKTINFO", err)
		}
	}
	if err := recvErr(fd, v6); err != nil {
		return fail("RECVERR", err)
	}
	// Past net.core.rmem_max only with CAP_NET_ADMIN; else as much as
	// the host allows.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, muxRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, muxRcvBuf)
	}
	return fd, nil
}

// muxPath sends the probes of one address family and one mark: a raw
// IPPROTO_RAW socket, which receives nothing (no packet carries protocol
// 255), so that a mark costs no copy of the host's TCP traffic, with
// SO_MARK set once; and a UDP socket with the same mark for route lookups.
// Both need privilege to open, which is why a mark's path is made before
// capabilities are dropped.
type muxPath struct {
	send *os.File
	snd  *sender // the path's sweep batches

	mu    sync.Mutex // serialises route lookups on the one socket
	route int        // -1 once closed
}

func openPath(v6 bool, mark uint32) (*muxPath, error) {
	fd, err := rawSocket(v6, unix.IPPROTO_RAW, true)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*muxPath, error) { unix.Close(fd); return nil, err }
	if err := attachFilter(fd, dropAll()); err != nil {
		return fail(fmt.Errorf("%w: BPF filter: %v", sockopt.ErrSetup, err))
	}
	if v6 {
		// Implied by IPPROTO_RAW since Linux 4.5; said, to be sure.
		if err := unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_HDRINCL, 1); err != nil {
			return fail(fmt.Errorf("%w: IPV6_HDRINCL: %v", sockopt.ErrSetup, err))
		}
	}
	if err := setMark(fd, mark); err != nil {
		return fail(err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, muxSndBuf)
	fam := unix.AF_INET
	if v6 {
		fam = unix.AF_INET6
	}
	route, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("%w: route lookup socket: %v", sockopt.ErrSetup, err))
	}
	if err := setMark(route, mark); err != nil {
		unix.Close(route)
		return fail(err)
	}
	return &muxPath{send: os.NewFile(uintptr(fd), "raw-send"), route: route}, nil
}

func (p *muxPath) close() {
	p.send.Close()
	p.mu.Lock()
	if p.route >= 0 {
		unix.Close(p.route)
		p.route = -1
	}
	p.mu.Unlock()
}

// source asks the kernel which source address it would use to reach dst
// with this path's mark: connect the UDP socket (which sends nothing),
// read its address, and disconnect it again for the next lookup (a
// connected socket would keep its source for the next destination).
func (p *muxPath) source(dst netip.AddrPort) (netip.Addr, error) {
	sa, err := sockaddr(dst)
	if err != nil {
		return netip.Addr{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.route < 0 {
		return netip.Addr{}, ErrMuxClosed
	}
	if err := unix.Connect(p.route, sa); err != nil {
		disconnect(p.route)
		return netip.Addr{}, fmt.Errorf("no route to %s: %w", dst.Addr(), err)
	}
	ap, err := localAddr(p.route)
	disconnect(p.route)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: route lookup: %v", sockopt.ErrSetup, err)
	}
	return ap.Addr().WithZone(dst.Addr().Zone()), nil
}

// disconnect dissolves a UDP socket's association (connect to AF_UNSPEC),
// which also forgets the source address the last connect chose.
func disconnect(fd int) {
	sa := unix.RawSockaddr{Family: unix.AF_UNSPEC}
	unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
}

// datagram is one probe's packets, ready to send: the IP header is ours
// (IPPROTO_RAW), the source address also goes in IP(V6)_PKTINFO so that the
// kernel routes by it and refuses one that is not local.
type datagram struct {
	to  unix.Sockaddr
	oob []byte
}

func newDatagram(src, dst netip.Addr) (datagram, error) {
	to, err := sockaddr(netip.AddrPortFrom(dst, 0))
	if err != nil {
		return datagram{}, err
	}
	if src.Is4() {
		b := make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
		putCmsgHeader(b, unix.SOL_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
		a := src.As4()
		// struct in_pktinfo: ifindex, spec_dst (our source), addr.
		copy(b[unix.CmsgLen(0)+4:], a[:])
		return datagram{to: to, oob: b}, nil
	}
	b := make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
	putCmsgHeader(b, unix.SOL_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
	a := src.As16()
	copy(b[unix.CmsgLen(0):], a[:])
	if sa, ok := to.(*unix.SockaddrInet6); ok {
		// The zone: a link-local source is ambiguous without it.
		binary.NativeEndian.PutUint32(b[unix.CmsgLen(0)+16:], sa.ZoneId)
	}
	return datagram{to: to, oob: b}, nil
}

// putCmsgHeader writes a control message header at the start of b.
func putCmsgHeader(b []byte, level, typ, datalen int) {
	lenSize := int(unsafe.Sizeof(unix.Cmsghdr{}.Len))
	if lenSize == 8 {
		binary.NativeEndian.PutUint64(b, uint64(unix.CmsgLen(datalen)))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(unix.CmsgLen(datalen)))
	}
	binary.NativeEndian.PutUint32(b[lenSize:], uint32(int32(level)))
	binary.NativeEndian.PutUint32(b[lenSize+4:], uint32(int32(typ)))
}

// withIPHeader prepends the IPv4 or IPv6 header to a TCP segment. The
// kernel fills in the IPv4 header checksum, ID and total length and the
// IPv6 payload length; TTL is ours. IPv4 sets DF, as the kernel's TCP does.
func withIPHeader(tcp []byte, src, dst netip.Addr) []byte {
	if src.Is4() {
		b := make([]byte, 20+len(tcp))
		b[0] = 0x45 // version 4, IHL 5
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		binary.BigEndian.PutUint16(b[6:], 0x4000) // DF
		b[8] = muxTTL
		b[9] = unix.IPPROTO_TCP
		s, d := src.As4(), dst.As4()
		copy(b[12:], s[:])
		copy(b[16:], d[:])
		copy(b[20:], tcp)
		return b
	}
	b := make([]byte, 40+len(tcp))
	b[0] = 0x60 // version 6
	binary.BigEndian.PutUint16(b[4:], uint16(len(tcp)))
	b[6] = unix.IPPROTO_TCP
	b[7] = muxTTL
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	copy(b[40:], tcp)
	return b
}

// sendOn writes one packet on the path's socket. The file's reference is
// held during the call, so Close cannot hand the fd number to another
// socket under us.
func (p *muxPath) sendOn(pkt []byte, dg datagram) error {
	rc, err := p.send.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			_, serr = unix.SendmsgN(int(fd), pkt, dg.oob, dg.to, unix.MSG_DONTWAIT)
			if !errors.Is(serr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return ErrMuxClosed
	}
	return serr
}

// recvmmsg reads up to len(msgs) datagrams without blocking (flags must
// hold MSG_DONTWAIT): x/sys/unix has the struct, not the call.
//
// nonBlocking: it and sendmmsg are raw system calls, which never tell
// the scheduler they are in one. An ordinary one, made while the
// runtime's monitor (sysmon) sleeps because every P is idle, wakes it,
// and it then polls every 20 us until they are idle again: one or more
// context switches for each tick's send and each read of the replies,
// dear on a VM. Neither call can block, so there is no P to hand off.
func recvmmsg(fd int, msgs []unix.Mmsghdr, flags int) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)),
		uintptr(flags), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// socketDrops reads how many packets the kernel dropped for want of room
// in the socket's receive queue (SO_MEMINFO); 0 if it cannot say.
func socketDrops(fd int) uint32 {
	var info [unix.SK_MEMINFO_VARS]uint32
	size := uint32(unsafe.Sizeof(info))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
	if e != 0 || size < 4*(unix.SK_MEMINFO_DROPS+1) {
		return 0
	}
	return info[unix.SK_MEMINFO_DROPS]
}
