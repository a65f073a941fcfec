package halfopen

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PortRange is the contiguous range of source ports the Mux reserves
// (bound TCP sockets on the wildcard address of each family, never
// listening) and draws every probe's source port from. Its BPF filter
// passes only replies to these ports.
type PortRange struct{ First, Last uint16 }

// DefaultPorts is the range a Mux reserves unless told otherwise: 256
// ports just above Linux's default ephemeral range (32768-60999), so the
// kernel's own choice never even looks at them. If one is taken, OpenMux
// slides to the next block of 256 (61256-61511, ...), and Mux.Ports says
// which it got.
var DefaultPorts = PortRange{First: 61000, Last: 61255}

// ParsePortRange reads "FIRST-LAST", e.g. "61000-61255": the one parser
// of the range for the command line and the configuration. Ports below
// 1024 are refused: binding them would need privilege.
func ParsePortRange(s string) (PortRange, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return PortRange{}, fmt.Errorf("port range %q: want FIRST-LAST, e.g. %s", s, DefaultPorts)
	}
	first, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	last, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	switch {
	case err1 != nil || err2 != nil:
		return PortRange{}, fmt.Errorf("port range %q: ports are numbers from 1024 to 65535", s)
	case first < 1024:
		return PortRange{}, fmt.Errorf("port range %q: ports below 1024 need privilege to reserve", s)
	case last < first:
		return PortRange{}, fmt.Errorf("port range %q: %d is below %d", s, last, first)
	}
	return PortRange{First: uint16(first), Last: uint16(last)}, nil
}

// Len is the number of ports in the range.
func (r PortRange) Len() int { return int(r.Last) - int(r.First) + 1 }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

func (r PortRange) contains(p uint16) bool { return p >= r.First && p <= r.Last }

// port is the range's i-th port, i taken modulo its length.
func (r PortRange) port(i uint32) uint16 { return r.First + uint16(i%uint32(r.Len())) }

// sameTargetAfter is how long a port rests before it probes the same
// target again: longer than a server keeps a half-made connection
// (SYN-RECV; Linux gives up after its fifth SYN+ACK, 63 s). Were our RST
// lost and the kernel's dropped by a host firewall, a new SYN on the same
// 4-tuple would meet that entry and get a bare ACK: silence, "filtered",
// for a working port. The single path skips such a port (round-robin over
// the range); a sweep target rotates through the range, so it comes back
// to a port after the range's length times its interval (256 x 10 s).
const sameTargetAfter = 75 * time.Second

// errPortTaken is a port of the range another socket holds.
var errPortTaken = errors.New("source port taken")

// reservation holds the range: one TCP socket bound to each port on the
// wildcard address of each family, never listening. Bound, a port is
// ours: no other socket of this host can bind it (we set no SO_REUSEADDR),
// and connect()'s choice of an ephemeral port skips every port bound
// without it (Linux's __inet_hash_connect passes over a port whose bind
// bucket was made by bind(), not by a connect), so no real connection of
// this host can share a probe's 4-tuple, even with an ip_local_port_range
// that covers ours. One socket per port and family serves every source
// address and every target. A SYN+ACK to a bound, non-listening port is
// answered by the kernel's RST, as the Prober's reserved port is.
type reservation struct {
	r   PortRange
	fds []int
}

// reservePorts binds every port of r in each family of fams (IPv4, IPv6).
// It fails naming the first port it cannot bind, with errPortTaken if
// another socket has it.
func reservePorts(r PortRange, fams [2]bool) (*reservation, error) {
	res := &reservation{r: r}
	for p := int(r.First); p <= int(r.Last); p++ {
		for i, v6 := range []bool{false, true} {
			if !fams[i] {
				continue
			}
			fd, err := bindPort(v6, uint16(p))
			if err != nil {
				res.close()
				return nil, fmt.Errorf("reserve source port %d (%s, range %s): %w", p, famName(v6), r, err)
			}
			res.fds = append(res.fds, fd)
		}
	}
	return res, nil
}

// reserveDefault reserves DefaultPorts, or the first block of as many
// ports above it that is free whole.
func reserveDefault(fams [2]bool) (*reservation, error) {
	n := DefaultPorts.Len()
	var first error
	for lo := int(DefaultPorts.First); lo+n-1 <= 65535; lo += n {
		res, err := reservePorts(PortRange{First: uint16(lo), Last: uint16(lo + n - 1)}, fams)
		if err == nil {
			return res, nil
		}
		if first == nil {
			first = err
		}
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no block of %d free ports from %d to 65535: %w", n, DefaultPorts.First, first)
}

func bindPort(v6 bool, port uint16) (int, error) {
	fam := unix.AF_INET
	if v6 {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(port)}
	if v6 {
		// IPv6 only: the IPv4 socket holds the port for IPv4.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			unix.Close(fd)
			return -1, err
		}
		sa = &unix.SockaddrInet6{Port: int(port)}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return -1, fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return -1, err
	}
	return fd, nil
}

func (res *reservation) close() {
	for _, fd := range res.fds {
		unix.Close(fd)
	}
	res.fds = nil
}
