package halfopen

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

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
	local, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: route lookup: %v", sockopt.ErrSetup, err)
	}
	ap, ok := addrOf(local)
	if !ok {
		return netip.Addr{}, fmt.Errorf("%w: route lookup: unexpected local address %T", sockopt.ErrSetup, local)
	}
	return ap.Addr().WithZone(dst.Addr().Zone()), nil
}

// reservePort binds an ordinary TCP socket to src:0 and keeps it (never
// listening) until release: the port the kernel picks is then ours, and no
// real connection can share our 4-tuple while the probe runs.
func reservePort(src netip.Addr) (port uint16, release func(), err error) {
	fd, err := unix.Socket(family(src), unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: port reservation socket: %v", sockopt.ErrSetup, err)
	}
	sa, err := sockaddr(netip.AddrPortFrom(src, 0))
	if err == nil {
		err = unix.Bind(fd, sa)
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			err = fmt.Errorf("%w: bind %s: %v", sockopt.ErrSetup, src, err)
		}
	}
	var local unix.Sockaddr
	if err == nil {
		local, err = unix.Getsockname(fd)
	}
	ap, ok := addrOf(local)
	if err != nil || !ok {
		unix.Close(fd)
		if err == nil {
			err = fmt.Errorf("%w: port reservation: no local address", sockopt.ErrSetup)
		}
		return 0, nil, fmt.Errorf("reserve a source port: %w", err)
	}
	return ap.Port(), func() { unix.Close(fd) }, nil
}
