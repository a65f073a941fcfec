// Package target reads which host and port a check is aimed at, from any
// of the argument forms the callers use, and resolves a name exactly once.
//
//	HOST [PORT]                                  a person, Farmguardian, keepalived
//	-H HOST [-p PORT]                            Nagios, Icinga
//	PROXY_ADDR PROXY_PORT SERVER_ADDR SERVER_PORT HAProxy external-check
//
// HOST is an IPv4 or IPv6 literal (bare or in brackets, with a zone if
// link-local) or a DNS name. HAProxy passes IPv6 without brackets and
// NOT_USED for the proxy address in a backend section.
package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrUsage is wrapped by every error that comes from the arguments
// themselves, as opposed to the network.
var ErrUsage = errors.New("bad argument")

// Spec is the host and port the command line names.
type Spec struct {
	Host string     // the name, or the literal without brackets
	IP   netip.Addr // valid when Host is a literal
	Port uint16     // 0 when none was given
}

// Family restricts name resolution (-4, -6).
type Family int

// The families a name may resolve to.
const (
	Any Family = iota
	IPv4
	IPv6
)

func usage(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, a...))
}

// quote renders argv text for the first line as Go quotes it, ASCII only,
// with '|' (which would start perfdata) escaped as probe.Quote does, and
// the rendering cut at 64 bytes. (target does not import probe: probe's
// callers import target.)
func quote(s string) string {
	const max = 64
	var b strings.Builder
	b.WriteByte('"')
	for i, n := 0, 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var e string
		switch {
		case r == utf8.RuneError && size == 1:
			e = fmt.Sprintf(`\x%02x`, s[i])
		case r == '|':
			e = `\x7c`
		default:
			q := strconv.QuoteToASCII(s[i : i+size])
			e = q[1 : len(q)-1]
		}
		if n += len(e); n > max {
			b.WriteString(`"...`)
			return b.String()
		}
		b.WriteString(e)
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// FromArgs combines the -H and -p values with the positional arguments.
func FromArgs(hostFlag, portFlag string, args []string) (Spec, error) {
	var hostText, portText string
	switch {
	case hostFlag != "" && len(args) > 0:
		return Spec{}, usage("HOST given both as -H and as argument %s", quote(args[0]))
	case hostFlag != "":
		hostText, portText = hostFlag, portFlag
	case len(args) == 1:
		hostText, portText = args[0], portFlag
		if h, p, ok := splitHostPort(args[0]); ok {
			if portFlag != "" {
				return Spec{}, usage("PORT given both in %s and as -p", quote(args[0]))
			}
			hostText, portText = h, p
		}
	case len(args) == 2:
		if portFlag != "" {
			return Spec{}, usage("PORT given both as -p and as argument %s", quote(args[1]))
		}
		hostText, portText = args[0], args[1]
	case len(args) == 4:
		// HAProxy external-check: PROXY_ADDR PROXY_PORT SERVER_ADDR SERVER_PORT.
		if portFlag != "" {
			return Spec{}, usage("PORT given both as -p and as argument %s", quote(args[3]))
		}
		hostText, portText = args[2], args[3]
	case len(args) == 0:
		return Spec{}, usage("no HOST given")
	default:
		return Spec{}, usage("%d arguments; want HOST [PORT], or HAProxy's PROXY_ADDR PROXY_PORT SERVER_ADDR SERVER_PORT", len(args))
	}
	spec, err := ParseHost(hostText)
	if err != nil {
		return Spec{}, err
	}
	if portText != "" {
		if spec.Port, err = ParsePort(portText); err != nil {
			return Spec{}, err
		}
	}
	return spec, nil
}

// splitHostPort recognises "[v6]:port" and "name:port" / "v4:port" (one
// colon only, so a bare IPv6 literal is never split).
func splitHostPort(s string) (host, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		if i := strings.LastIndex(s, "]:"); i > 0 {
			return s[:i+1], s[i+2:], true
		}
		return "", "", false
	}
	if strings.Count(s, ":") == 1 {
		h, p, _ := strings.Cut(s, ":")
		return h, p, true
	}
	return "", "", false
}

// ParsePort reads a port number, 1-65535.
func ParsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || s[0] == '+' {
		return 0, usage("port %s: want a number from 1 to 65535", quote(s))
	}
	return uint16(n), nil
}

// ParseHost reads a HOST: an IP literal, bracketed or not, or a DNS name.
// Nothing is sent: a zone is checked against this host's interfaces.
func ParseHost(s string) (Spec, error) { return parseHost(s, systemZone) }

// zoneFunc finds the interface an IPv6 zone names: its name and index.
type zoneFunc func(zone string) (name string, index int, ok bool)

func parseHost(s string, zone zoneFunc) (Spec, error) {
	literal := strings.TrimSuffix(s, ".")
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		literal = s[1 : len(s)-1]
	}
	if ip, err := netip.ParseAddr(literal); err == nil {
		ip = ip.Unmap()
		if z := ip.Zone(); z != "" {
			// An unknown zone would fail at connect (EINVAL, "invalid
			// argument"), which reads as a failing service.
			name, index, ok := zone(z)
			if !ok {
				return Spec{}, usage("zone %s of %s is not an interface here (want a name or index: %s%%eth0)", quote(z), ip.WithZone(""), ip.WithZone(""))
			}
			// Linux allows almost any byte in an interface name; one that
			// could not be printed on the first line, or dialled as
			// [addr%zone]:port, is named by its index instead.
			if !plainZone(name) {
				ip = ip.WithZone(strconv.Itoa(index))
			}
		}
		// Without its interface the kernel cannot send to it (EINVAL),
		// which would read as a failing service rather than a bad argument.
		if ip.Is6() && ip.Zone() == "" && (ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()) {
			return Spec{}, usage("host %s is link-local: name its interface, as in %s%%eth0", ip, ip)
		}
		return Spec{Host: ip.String(), IP: ip}, nil
	}
	name := strings.TrimSuffix(s, ".")
	// HAProxy passes NOT_USED for an address it does not have (the proxy's,
	// in a backend): as the host to check it is a wrong argument, never a
	// name to look up.
	if strings.EqualFold(name, "NOT_USED") {
		return Spec{}, usage("host NOT_USED is HAProxy's placeholder, not a host (the server is its third argument)")
	}
	if !validName(s) {
		return Spec{}, usage("host %s is neither an IP address nor a valid host name", quote(s))
	}
	// A resolver given 10.0.0.256 or 127.1 looks it up in DNS, while
	// inet_aton(3) reads 127.1 and 0x7f000001 as 127.0.0.1: either way it
	// is a mistyped address.
	if looksLikeIPv4(name) {
		return Spec{}, usage("host %s is not an IPv4 address: want 4 decimal numbers 0-255, no leading zeros", quote(s))
	}
	// And no name ends in an all-numeric label (RFC 3696 section 2).
	if numericLabel(name[strings.LastIndexByte(name, '.')+1:]) {
		return Spec{}, usage("host %s is not a host name: its last label is all digits", quote(s))
	}
	return Spec{Host: name}, nil
}

// systemZone looks a zone up as Go's dialer does: an interface name first,
// then an index. It asks the kernel over netlink; no packet is sent.
func systemZone(z string) (string, int, bool) {
	if ifi, err := net.InterfaceByName(z); err == nil {
		return ifi.Name, ifi.Index, true
	}
	if n, err := strconv.ParseUint(z, 10, 31); err == nil && n > 0 {
		if ifi, err := net.InterfaceByIndex(int(n)); err == nil {
			return ifi.Name, ifi.Index, true
		}
	}
	return "", 0, false
}

// plainZone: a zone made only of the bytes interface names usually have.
func plainZone(z string) bool {
	for i := 0; i < len(z); i++ {
		c := z[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.@+=~", c) >= 0) {
			return false
		}
	}
	return z != ""
}

func numericLabel(l string) bool {
	return l != "" && strings.Trim(l, "0123456789") == ""
}

// looksLikeIPv4 reports a name every label of which is a number as
// inet_aton(3) reads one, hex included (0x7f.1, 0x7f000001).
func looksLikeIPv4(name string) bool {
	for more := true; more; {
		var l string
		l, name, more = strings.Cut(name, ".")
		if len(l) > 2 && (l[:2] == "0x" || l[:2] == "0X") {
			if strings.Trim(l[2:], "0123456789abcdefABCDEF") != "" {
				return false
			}
		} else if !numericLabel(l) {
			return false
		}
	}
	return true
}

// validName accepts DNS names in the loose form resolvers accept
// (underscores are common in internal names), and rejects what could only
// be a typo or an injection: spaces, slashes, empty labels.
func validName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Resolver is the part of *net.Resolver that Resolve needs.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Resolve returns the address to check: the literal itself (no lookup is
// made), or the first address of the name's lookup in the resolver's
// order (RFC 6724, as Go's dialer uses), within the context's deadline.
func (s Spec) Resolve(ctx context.Context, r Resolver, fam Family) (netip.Addr, error) {
	if s.IP.IsValid() {
		if (fam == IPv4 && !s.IP.Is4()) || (fam == IPv6 && !s.IP.Is6()) {
			return netip.Addr{}, usage("%s is not an %s address", s.IP, fam)
		}
		return s.IP, nil
	}
	if r == nil {
		r = net.DefaultResolver
	}
	network := [...]string{Any: "ip", IPv4: "ip4", IPv6: "ip6"}[fam]
	addrs, err := r.LookupNetIP(ctx, network, s.Host)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return netip.Addr{}, fmt.Errorf("resolve %s: no such host", s.Host)
		}
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", s.Host, err)
	}
	for _, a := range addrs {
		a = a.Unmap()
		if fam == Any || (fam == IPv4) == a.Is4() {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("resolve %s: no %s address", s.Host, fam)
}

// String names the family as -4/-6 would.
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return "IP"
}

// IsName reports whether HOST was a name rather than a literal.
func (s Spec) IsName() bool { return !s.IP.IsValid() }
