package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// header is what a receiver learns from a PROXY header.
type header struct {
	version  int  // 1 or 2
	local    bool // v2 LOCAL: use the real endpoints
	datagram bool
	src, dst netip.AddrPort
	length   int // bytes the header took
}

// parseRef reads one header as doc/proxy-protocol.txt tells a receiver
// to, strictly: written from the specification for the tests, apart from
// the writer, so that the two readings of it meet only here.
func parseRef(b []byte) (header, error) {
	sig := []byte("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A")
	switch {
	case len(b) >= 16 && bytes.Equal(b[:12], sig):
		return parseRefV2(b)
	case len(b) >= 8 && string(b[:5]) == "PROXY":
		return parseRefV1(b)
	}
	return header{}, errors.New("no PROXY header")
}

func parseRefV1(b []byte) (header, error) {
	end := bytes.Index(b, []byte("\r\n"))
	if end < 0 || end+2 > 107 {
		return header{}, errors.New("v1: no CRLF in the first 107 bytes")
	}
	line := string(b[:end])
	if strings.ContainsAny(line, "\r\n") {
		return header{}, errors.New("v1: lone CR or LF")
	}
	f := strings.Split(line, " ")
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		return header{version: 1, length: end + 2}, nil
	}
	if len(f) != 6 || f[0] != "PROXY" || (f[1] != "TCP4" && f[1] != "TCP6") {
		return header{}, errors.New("v1: want PROXY TCP4|TCP6 SRC DST SPORT DPORT")
	}
	v4 := f[1] == "TCP4"
	addr := func(s string) (netip.Addr, error) {
		if v4 {
			// Exactly 4 decimal numbers 0-255, no leading zeros.
			parts := strings.Split(s, ".")
			if len(parts) != 4 {
				return netip.Addr{}, errors.New("v1: bad IPv4 address")
			}
			var a [4]byte
			for i, p := range parts {
				n, err := strconv.Atoi(p)
				if err != nil || n < 0 || n > 255 || (len(p) > 1 && p[0] == '0') || p[0] == '+' || p[0] == '-' {
					return netip.Addr{}, errors.New("v1: bad IPv4 number " + p)
				}
				a[i] = byte(n)
			}
			return netip.AddrFrom4(a), nil
		}
		if strings.ContainsAny(s, ".%") {
			return netip.Addr{}, errors.New("v1: IPv6 in hex groups only")
		}
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() {
			return netip.Addr{}, errors.New("v1: bad IPv6 address")
		}
		return a, nil
	}
	port := func(s string) (uint16, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 65535 || (len(s) > 1 && s[0] == '0') || s[0] == '+' || s[0] == '-' {
			return 0, errors.New("v1: bad port " + s)
		}
		return uint16(n), nil
	}
	sa, err1 := addr(f[2])
	da, err2 := addr(f[3])
	sp, err3 := port(f[4])
	dp, err4 := port(f[5])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return header{}, err
	}
	return header{version: 1, src: netip.AddrPortFrom(sa, sp), dst: netip.AddrPortFrom(da, dp), length: end + 2}, nil
}

func parseRefV2(b []byte) (header, error) {
	if b[12]>>4 != 2 {
		return header{}, errors.New("v2: version is not 2")
	}
	h := header{version: 2}
	switch b[12] & 0xf {
	case 0:
		h.local = true
	case 1:
	default:
		return header{}, errors.New("v2: unassigned command")
	}
	n := int(binary.BigEndian.Uint16(b[14:16]))
	if len(b) < 16+n {
		return header{}, errors.New("v2: partial header")
	}
	h.length = 16 + n
	fam, proto := b[13]>>4, b[13]&0xf
	if fam > 3 || proto > 2 {
		return header{}, errors.New("v2: unspecified family or transport")
	}
	h.datagram = proto == 2
	if h.local || fam == 0 || proto == 0 {
		return h, nil // the receiver ignores the addresses
	}
	a := b[16 : 16+n]
	switch fam {
	case 1:
		if n < 12 {
			return header{}, errors.New("v2: short IPv4 block")
		}
		h.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
		h.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
	case 2:
		if n < 36 {
			return header{}, errors.New("v2: short IPv6 block")
		}
		h.src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), binary.BigEndian.Uint16(a[32:34]))
		h.dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), binary.BigEndian.Uint16(a[34:36]))
	default:
		return header{}, errors.New("v2: AF_UNIX is not ours")
	}
	return h, nil
}
