package halfopen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// icmpError is an ICMP or ICMPv6 error the kernel queued on our socket
// (IP_RECVERR / IPV6_RECVERR) for a packet we sent.
type icmpError struct {
	V6       bool
	Type     uint8
	Code     uint8
	Reporter netip.Addr // the router or host that sent the error
	Errno    syscall.Errno
}

func (e *icmpError) Error() string {
	s := fmt.Sprintf("ICMP type %d code %d", e.Type, e.Code)
	if e.V6 {
		s = fmt.Sprintf("ICMPv6 type %d code %d", e.Type, e.Code)
	}
	if name := e.name(); name != "" {
		s = name + " (" + s + ")"
	}
	if e.Reporter.IsValid() {
		s += " from " + e.Reporter.String()
	}
	return s
}

// name says what the type and code mean, as RFC 792/1812 and RFC 4443 name
// them; "" when we do not know them.
func (e *icmpError) name() string {
	if e.V6 {
		switch e.Type {
		case 1:
			switch e.Code {
			case 0:
				return "no route to destination"
			case 1:
				return "communication administratively prohibited"
			case 2:
				return "beyond scope of source address"
			case 3:
				return "address unreachable"
			case 4:
				return "port unreachable"
			case 5:
				return "source address failed ingress/egress policy"
			case 6:
				return "reject route to destination"
			}
			return "destination unreachable"
		case 2:
			return "packet too big"
		case 3:
			return "time exceeded"
		case 4:
			return "parameter problem"
		}
		return ""
	}
	switch e.Type {
	case 3:
		switch e.Code {
		case 0:
			return "network unreachable"
		case 1:
			return "host unreachable"
		case 2:
			return "protocol unreachable"
		case 3:
			return "port unreachable"
		case 4:
			return "fragmentation needed"
		case 6, 7:
			return "destination unknown"
		case 9, 10, 13:
			return "communication administratively prohibited"
		}
		return "destination unreachable"
	case 11:
		return "time exceeded"
	case 12:
		return "parameter problem"
	}
	return ""
}

// sizeofExtendedErr is struct sock_extended_err; the offender's sockaddr
// (SO_EE_OFFENDER) follows it in the same control message.
const sizeofExtendedErr = 16

var errNoICMP = errors.New("no ICMP error in the message")

// parseErrQueue reads one message from the error queue: oob holds the
// control messages, payload the start of the packet the error is about
// (for a raw IPPROTO_TCP socket the kernel points it at our TCP header,
// at least 8 bytes: the ports and our sequence number). It returns the
// error and that packet's ports and sequence number, so that the caller
// can tell its own SYN from another probe's.
func parseErrQueue(oob, payload []byte) (e *icmpError, srcPort, dstPort uint16, seq uint32, err error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("control message: %w", err)
	}
	for _, m := range msgs {
		v6 := m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR
		v4 := m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR
		if !v4 && !v6 || len(m.Data) < sizeofExtendedErr {
			continue
		}
		d := m.Data
		origin := d[4]
		if origin != unix.SO_EE_ORIGIN_ICMP && origin != unix.SO_EE_ORIGIN_ICMP6 {
			continue // a local error (EMSGSIZE, ...) is no answer from the network
		}
		e = &icmpError{
			V6:    origin == unix.SO_EE_ORIGIN_ICMP6,
			Errno: syscall.Errno(binary.NativeEndian.Uint32(d[0:4])),
			Type:  d[5],
			Code:  d[6],
		}
		e.Reporter = offender(d[sizeofExtendedErr:])
		if len(payload) < 8 {
			return nil, 0, 0, 0, errShort
		}
		return e, binary.BigEndian.Uint16(payload[0:2]), binary.BigEndian.Uint16(payload[2:4]),
			binary.BigEndian.Uint32(payload[4:8]), nil
	}
	return nil, 0, 0, 0, errNoICMP
}

// offender reads the sockaddr_in or sockaddr_in6 that follows a
// sock_extended_err; the zero Addr if there is none.
func offender(b []byte) netip.Addr {
	if len(b) < 2 {
		return netip.Addr{}
	}
	switch binary.NativeEndian.Uint16(b[0:2]) {
	case unix.AF_INET:
		if len(b) >= 8 {
			return netip.AddrFrom4([4]byte(b[4:8]))
		}
	case unix.AF_INET6:
		if len(b) >= 24 {
			return netip.AddrFrom16([16]byte(b[8:24])).Unmap()
		}
	}
	return netip.Addr{}
}
