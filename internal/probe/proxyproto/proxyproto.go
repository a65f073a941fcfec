// Package proxyproto writes the header of HAProxy's PROXY protocol
// (haproxy.org's doc/proxy-protocol.txt), versions 1 and 2, for checks of
// backends that accept only connections which begin with one: nginx
// "listen ... proxy_protocol", HAProxy "accept-proxy", postfix
// smtpd_upstream_proxy_protocol, dovecot "haproxy = yes", unbound
// proxy-protocol-port.
//
// The header names the connection's own endpoints (getsockname and
// getpeername), as the specification asks of a proxy's health checks, so
// the backend logs the checker's real address. It is written with the
// first bytes the check sends, in the same write, so a check pays no
// extra round trip or system call for it (see Wrap).
//
// Nothing here runs at start-up: a check that does not ask for a header
// pays only for a comparison.
package proxyproto

import (
	"net/netip"
	"strconv"

	"github.com/lbcheck/lbcheck/internal/flags"
)

// Version is the header a check sends: none, v1 (text), v2 (binary, PROXY
// command) or v2-local (binary, LOCAL command, which HAProxy itself sends
// with its checks: the receiver keeps the connection's real endpoints).
type Version uint8

// The headers, in the order of the option's values.
const (
	None Version = iota
	V1
	V2
	V2Local
)

// Values is the option's values as help and errors name them.
const Values = "v1, v2 or v2-local"

// String is the option's value for the version: "v1", "v2", "v2-local",
// or "" for none.
func (v *Version) String() string {
	switch *v {
	case V1:
		return "v1"
	case V2:
		return "v2"
	case V2Local:
		return "v2-local"
	}
	return ""
}

// Type names the option's argument in help.
func (v *Version) Type() string { return "VERSION" }

// Set reads the option's value.
func (v *Version) Set(s string) error {
	switch s {
	case "v1":
		*v = V1
	case "v2":
		*v = V2
	case "v2-local":
		*v = V2Local
	default:
		return Error("want " + Values + ", not " + strconv.Quote(s))
	}
	return nil
}

// Error is this package's error: a constant, so that the sentinels below
// cost no initialisation at start-up.
type Error string

func (e Error) Error() string { return "PROXY protocol: " + string(e) }

// Sentinel errors of Append.
const (
	// ErrV1Datagram: version 1 has no form for UDP.
	ErrV1Datagram = Error("version 1 has no form for UDP; use v2")
	// ErrAddress: the endpoints are not two IP addresses of one family.
	ErrAddress = Error("the connection's endpoints are not IP addresses of one family")
)

// Signature begins every version 2 header.
const Signature = "\r\n\r\n\x00\r\nQUIT\n"

// Version 2 header bytes: version and command, family and transport.
const (
	v2Local = 0x20
	v2Proxy = 0x21

	famUnspec = 0x00
	famInet   = 0x10
	famInet6  = 0x20
	tStream   = 0x01
	tDgram    = 0x02
)

// MaxLen is the longest header Append writes (v1 TCP6: 104 bytes).
const MaxLen = 104

// Append appends the header of version v for a connection from src to
// dst: a stream (TCP) or, when datagram is set, UDP, where version 2
// describes each datagram. IPv4-mapped addresses count as IPv4; zones are
// left out, as neither version has room for one. None appends nothing.
func Append(b []byte, v Version, datagram bool, src, dst netip.AddrPort) ([]byte, error) {
	if v == None {
		return b, nil
	}
	if v == V1 && datagram {
		return b, ErrV1Datagram
	}
	if v == V2Local {
		// The specification: a LOCAL header presents no address, family
		// and transport UNSPEC; the receiver uses the real endpoints.
		return append(b, Signature+"\x20\x00\x00\x00"...), nil
	}
	sa, da := src.Addr().Unmap().WithZone(""), dst.Addr().Unmap().WithZone("")
	if !sa.IsValid() || !da.IsValid() || sa.Is4() != da.Is4() {
		return b, ErrAddress
	}
	if v == V1 {
		fam := "TCP6 "
		if sa.Is4() {
			fam = "TCP4 "
		}
		b = append(b, "PROXY "...)
		b = append(b, fam...)
		b = sa.AppendTo(b)
		b = append(b, ' ')
		b = da.AppendTo(b)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(src.Port()), 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(dst.Port()), 10)
		return append(b, "\r\n"...), nil
	}
	fam, n := byte(famInet6), 36
	if sa.Is4() {
		fam, n = famInet, 12
	}
	if datagram {
		fam |= tDgram
	} else {
		fam |= tStream
	}
	b = append(b, Signature...)
	b = append(b, v2Proxy, fam, 0, byte(n))
	b = append(b, sa.AsSlice()...)
	b = append(b, da.AsSlice()...)
	return append(b, byte(src.Port()>>8), byte(src.Port()), byte(dst.Port()>>8), byte(dst.Port())), nil
}

// Describe says in a few words what a header of version v carries, for
// the -v trace: "v1 PROXY TCP4 10.0.0.1:40000 -> 10.0.0.5:80".
func Describe(v Version, datagram bool, src, dst netip.AddrPort) string {
	switch v {
	case None:
		return "none"
	case V2Local:
		return "v2 LOCAL (no addresses)"
	}
	proto := "TCP"
	if datagram {
		proto = "UDP"
	}
	return v.String() + " PROXY " + proto + " " + src.String() + " -> " + dst.String()
}

// Flag registers --proxy-protocol on fs, with the same words in every
// check that takes it; note adds what is particular to one check.
func Flag(fs *flags.FlagSet, v *Version, note string) {
	fs.Var(v, "proxy-protocol", "begin every connection with a PROXY protocol header of this `VERSION`: v1, v2, or v2-local (LOCAL command, as HAProxy's own checks); for backends behind HAProxy send-proxy or an AWS NLB"+note)
}

// Refuse registers --proxy-protocol, hidden from help, on a check that
// opens no connection: giving it is a bad argument that says why, rather
// than "unknown flag", since the option is known to every other check.
func Refuse(fs *flags.FlagSet, why string) {
	fs.Var(refused(why), "proxy-protocol", why)
	fs.MarkHidden("proxy-protocol")
}

type refused string

func (r refused) String() string   { return "" }
func (r refused) Type() string     { return "VERSION" }
func (r refused) Set(string) error { return r }
func (r refused) Error() string    { return string(r) }
