package dns

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
)

// The question is packed here, as miekg/dns v1 packs it (Msg.Pack, no
// compression), from a name checked and completed as miekg checks it
// (IsDomainName, Fqdn): TestQueryAsMiekg and FuzzNameAsMiekg hold them
// together.

// isDomainName says whether s is a domain name in presentation form that
// fits the wire: labels of 1 to 63 octets (\. and \DDD escapes count as
// one), 255 octets in all, no empty label but the root.
func isDomainName(s string) bool {
	const maxWire = 256
	if s == "" {
		return false
	}
	s = fqdn(s)
	off, begin := 0, 0
	wasDot, escape := false, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			escape = !escape
			if off+1 > maxWire {
				return false
			}
			if isDDD(s[i+1:]) {
				i += 3
				begin += 3
			} else {
				i++
				begin++
			}
			wasDot = false
		case '.':
			escape = false
			if i == 0 && len(s) > 1 {
				return false // a leading dot: only the root may be one
			}
			if wasDot {
				return false // an empty label
			}
			wasDot = true
			n := i - begin
			if n >= 64 {
				return false
			}
			if off += 1 + n; off > maxWire {
				return false
			}
			begin = i + 1
		default:
			escape, wasDot = false, false
		}
	}
	return !escape
}

func isDDD(s string) bool { return len(s) >= 3 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) }

// isFQDN says whether s ends in a dot that is not escaped.
func isFQDN(s string) bool {
	if s == "" || s[len(s)-1] != '.' {
		return false
	}
	s = s[:len(s)-1]
	if s == "" || s[len(s)-1] != '\\' {
		return true
	}
	// An odd number of backslashes before the dot escapes it.
	i := strings.LastIndexFunc(s, func(r rune) bool { return r != '\\' })
	return (len(s)-i)%2 != 0
}

// fqdn is s with its final dot.
func fqdn(s string) string {
	if isFQDN(s) {
		return s
	}
	return s + "."
}

// packName packs a fully qualified name in presentation form (which
// isDomainName took) into its wire form. Its errors are miekg's words.
func packName(s string) ([]byte, error) {
	// fqdn adds a dot that the name's last backslash may escape (a\0\):
	// isDomainName reads that escape otherwise and takes it.
	if !isFQDN(s) {
		return nil, errors.New("dns: domain must be fully qualified")
	}
	if s == "." {
		return []byte{0}, nil
	}
	wire := make([]byte, 0, len(s)+1)
	label := make([]byte, 0, 63)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if isDDD(s[i+1:]) {
				label = append(label, (s[i+1]-'0')*100+(s[i+2]-'0')*10+(s[i+3]-'0'))
				i += 3
			} else if i+1 < len(s) {
				label = append(label, s[i+1])
				i++
			}
		case '.':
			if len(label) == 0 || len(label) > 63 {
				return nil, errors.New("dns: bad rdata")
			}
			wire = append(append(wire, byte(len(label))), label...)
			label = label[:0]
		default:
			label = append(label, c)
		}
	}
	return append(wire, 0), nil
}

// newID draws a query ID from the runtime's generator (ChaCha8, seeded by
// the kernel at exec): unpredictable, as an ID must be against spoofed
// replies, without linking crypto/rand, whose package start-up every call
// would pay, or a system call.
func newID() uint16 { return uint16(rand.Uint32()) }

// query packs the question with the given ID.
func (o *Options) query(id uint16) []byte {
	b := make([]byte, 12, 12+len(o.wire)+4+11)
	binary.BigEndian.PutUint16(b, id)
	if !o.NoRecurse {
		b[2] = flagRD >> 8
	}
	b[5] = 1 // one question
	b = append(b, o.wire...)
	b = binary.BigEndian.AppendUint16(b, o.qtype)
	b = binary.BigEndian.AppendUint16(b, classINET)
	if o.DNSSEC {
		b[11] = 1 // one additional record: OPT
		// Root owner, type OPT, UDP size 1232 (the size the DNS flag
		// day of 2020 settled on, which passes most paths without
		// fragments), extended rcode and version 0, DO, no options.
		b = append(b, 0, 0, typeOPT, 1232>>8, 1232&0xFF, 0, 0, flagDO>>8, 0, 0, 0)
	}
	return b
}
