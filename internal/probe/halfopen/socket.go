package halfopen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// family is the address family of a, for socket(2).
func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// sockaddr converts ap for bind(2) and connect(2), with an IPv6 zone as
// the interface index the kernel wants.
func sockaddr(ap netip.AddrPort) (unix.Sockaddr, error) {
	a := ap.Addr()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		if n, err := strconv.ParseUint(z, 10, 32); err == nil {
			sa.ZoneId = uint32(n)
		} else if ifi, err := net.InterfaceByName(z); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		} else {
			return nil, fmt.Errorf("%w: IPv6 zone %q: %v", sockopt.ErrSetup, z, err)
		}
	}
	return sa, nil
}

// addrOf reads an address back from getsockname(2); the zone is kept as
// given by the caller, so only the bare address is returned.
func addrOf(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// localAddr is getsockname(2) for an IPv4 or IPv6 socket. unix.Getsockname
// would cost a getsockopt(2) more each time, to tell L2TP sockets apart.
func localAddr(fd int) (netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(rsa))
	if _, _, e := unix.RawSyscall(unix.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n))); e != 0 {
		return netip.AddrPort{}, e
	}
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])), nil
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])), nil
	}
	return netip.AddrPort{}, fmt.Errorf("address family %d", rsa.Addr.Family)
}

// setMark applies SO_MARK, so that policy routing and firewall rules see
// the probe as the caller asked (Farmguardian's MARK).
func setMark(fd int, mark uint32) error {
	if mark == 0 {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(mark)); err != nil {
		return sockopt.MarkError(mark, err)
	}
	return nil
}

// routeSource asks the kernel which source address it would use to reach
// dst (with the mark, which policy routing may match): a connected UDP
// socket, which sends nothing.
func routeSource(dst netip.AddrPort, mark uint32) (netip.Addr, error) {
	fd, err := unix.Socket(family(dst.Addr()), unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: route lookup socket: %v", sockopt.ErrSetup, err)
	}
	defer unix.Close(fd)
	if err := setMark(fd, mark); err != nil {
		return netip.Addr{}, err
	}
	sa, err := sockaddr(dst)
	if err != nil {
		return netip.Addr{}, err
	}
	if err := unix.Connect(fd, sa); err != nil {
		return netip.Addr{}, fmt.Errorf("no route to %s: %w", dst.Addr(), err)
	}
	ap, err := localAddr(fd)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: route lookup: %v", sockopt.ErrSetup, err)
	}
	return ap.Addr().WithZone(dst.Addr().Zone()), nil
}

// reservePort binds an ordinary TCP socket to src:0 and keeps it (never
// listening) until release: the port the kernel picks is then ours, and no
// real connection can share our 4-tuple while the probe runs.
func reservePort(src netip.Addr) (port uint16, release func(), err error) {
	fd, port, err := reserve(src)
	if err != nil {
		return 0, nil, err
	}
	return port, func() { unix.Close(fd) }, nil
}

// reserve is reservePort's socket: the caller closes fd to release port.
func reserve(src netip.Addr) (int, uint16, error) {
	fd, err := unix.Socket(family(src), unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("%w: port reservation socket: %v", sockopt.ErrSetup, err)
	}
	sa, err := sockaddr(netip.AddrPortFrom(src, 0))
	if err == nil {
		err = unix.Bind(fd, sa)
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			err = fmt.Errorf("%w: bind %s: %v", sockopt.ErrSetup, src, err)
		}
	}
	var ap netip.AddrPort
	if err == nil {
		if ap, err = localAddr(fd); err != nil {
			err = fmt.Errorf("%w: port reservation: %v", sockopt.ErrSetup, err)
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("reserve a source port: %w", err)
	}
	return fd, ap.Port(), nil
}

// localSource refuses a --bind address that is not this host's: a raw
// socket would send from it all the same (we write the IP header), and the
// answer could never come back, a "filtered" for what is could-not-check.
// Binding a UDP socket to it asks the kernel, as bind(2) of the Prober's
// port does.
func localSource(src netip.Addr) error {
	fd, err := unix.Socket(family(src), unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%w: socket: %v", sockopt.ErrSetup, err)
	}
	defer unix.Close(fd)
	sa, err := sockaddr(netip.AddrPortFrom(src, 0))
	if err != nil {
		return err
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("%w: bind %s: %v", sockopt.ErrSetup, src, err)
	}
	return nil
}
