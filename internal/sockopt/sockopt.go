// Package sockopt applies the caller's wishes for every socket a probe
// opens: the source address (-b/--bind, keepalived's bind_to) and the
// firewall mark (--mark, or the MARK environment variable Farmguardian sets).
//
// Farmguardian runs checks as "MARK=<mark> LD_PRELOAD=mark.so check_x ...":
// the preload patches libc's socket(), which a Go program never calls, so
// the mark is read from the environment here and set with SO_MARK instead.
package sockopt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrSetup is wrapped by failures to prepare a socket as asked (no
// privilege for SO_MARK, a bind address not on this host). They stop the
// plugin from checking at all, so they are UNKNOWN, not CRITICAL.
var ErrSetup = errors.New("socket setup")

// Options are the socket settings shared by every probe.
type Options struct {
	Bind netip.Addr // source address; the zero Addr lets the kernel choose
	Mark uint32     // SO_MARK; 0 leaves the socket unmarked
	// Poll waits on sockets with ppoll(2) from the calling goroutine
	// instead of Go's network poller: cheaper for a process that runs one
	// probe at a time (a check binary), wrong for a daemon that runs many.
	// Either way the socket is this package's (poll.go), not net's.
	Poll bool
}

// ParseMark reads a mark as decimal or 0x-prefixed hexadecimal, the two
// forms nft and iptables print. Leading zeros are refused rather than read
// as octal, which would silently change the number.
func ParseMark(s string) (uint32, error) {
	base := 10
	digits := s
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		base, digits = 16, rest
	} else if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("mark %q: leading zero (write decimal or 0x hex)", s)
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil || digits == "" || digits[0] == '+' {
		return 0, fmt.Errorf("mark %q: want a 32-bit number, decimal or 0x hex", s)
	}
	return uint32(v), nil
}

// ParseBind reads a source address: an IP literal, IPv6 with or without
// brackets.
func ParseBind(s string) (netip.Addr, error) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bind address %q is not an IP address", s)
	}
	return a.Unmap(), nil
}

// Control is a net.Dialer / net.ListenConfig Control hook that sets the
// mark. It is a no-op without one, so unprivileged runs need nothing.
func (o Options) Control(_, _ string, c syscall.RawConn) error {
	if o.Mark == 0 {
		return nil
	}
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(o.Mark))
	}); err != nil {
		return err
	}
	if serr != nil {
		return MarkError(o.Mark, serr)
	}
	return nil
}

// MarkError explains a failed SO_MARK: almost always a missing CAP_NET_ADMIN.
func MarkError(mark uint32, err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: SO_MARK %#x: %v (needs CAP_NET_ADMIN)", ErrSetup, mark, err)
	}
	return fmt.Errorf("%w: SO_MARK %#x: %v", ErrSetup, mark, err)
}

// DialTCP connects to addr with these options. A bind address that is not
// on this host is a setup error; anything else is the peer's answer.
func (o Options) DialTCP(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	return o.dialPoll(ctx, "tcp", addr)
}

// bindError makes a dial's error a setup error (UNKNOWN: nothing was
// checked) when it is the bind address's fault: not an address of this
// host, or not of the target's family. Anything else is the peer's answer.
func (o Options) bindError(err error) error {
	if o.Bind.IsValid() && (errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EAFNOSUPPORT)) {
		return fmt.Errorf("%w: bind %s: %v", ErrSetup, o.Bind, err)
	}
	return err
}
