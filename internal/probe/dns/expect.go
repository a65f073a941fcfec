package dns

import (
	"net/netip"
	"strings"
)

// findExpected returns the first answer record whose data is want (one
// --expect), or nil.
//
// "Data" is what an operator writes: an address for A and AAAA (any
// spelling of the same address), one string of a TXT or SPF record (or
// all of them joined), and otherwise the record's presentation form after
// the type ("www.example.org." for a CNAME, "10 mx.example.org." for an
// MX), compared field by field, without case and with or without the
// final dot of a name.
//
// lbcheck judged --expect on miekg/dns's records until the plain check
// read replies itself, and the verdicts must stay what they were
// (TestExpectAsMiekg holds the two together): the strings of a TXT record
// are escaped as miekg escapes them (\" \\ \DDD), the data is the record
// printed as miekg prints it (rdata), and an IPv4-mapped IPv6 spelling of
// an address matches an A record (netip's Unmap, which also drops a zone),
// while a zone never matches an AAAA record.
func findExpected(rrs []record, want string) *record {
	want = strings.TrimSpace(want)
	wantIP, err := netip.ParseAddr(want)
	wantIsIP := err == nil
	for i := range rrs {
		r := &rrs[i]
		switch r.rrtype {
		case typeA:
			if ip, ok := r.addr(4); wantIsIP && ok && ip.Unmap() == wantIP.Unmap() {
				return r
			}
			continue
		case typeAAAA:
			if ip, ok := r.addr(16); wantIsIP && ok && ip == wantIP {
				return r
			}
			continue
		case typeTXT, typeSPF:
			if txtMatch(r.txt(), want) {
				return r
			}
		}
		if sameFields(r.rdata(), want) {
			return r
		}
	}
	return nil
}

// addr is the address an A (size 4) or AAAA (16) record holds; a record
// without data (which unpack takes, as miekg does) holds none.
func (r *record) addr(size int) (netip.Addr, bool) {
	if b := r.msg[r.data:]; len(b) == size {
		return netip.AddrFromSlice(b)
	}
	return netip.Addr{}, false
}

// txt is a TXT or SPF record's character-strings, read from the
// wire and escaped as they are printed.
func (r *record) txt() []string {
	f := &fields{msg: r.msg, off: r.data}
	return f.strs()
}

func txtMatch(txt []string, want string) bool {
	for _, s := range txt {
		if s == want {
			return true
		}
	}
	return len(txt) > 1 && strings.Join(txt, "") == want
}

// sameFields compares two presentation forms field by field, without case
// and with or without a final dot (a lone "." is the root, kept).
func sameFields(a, b string) bool {
	fa, fb := strings.Fields(a), strings.Fields(b)
	if len(fa) != len(fb) || len(fa) == 0 {
		return false
	}
	for i := range fa {
		x, y := fa[i], fb[i]
		if x == y {
			continue
		}
		if len(x) > 1 {
			x = strings.TrimSuffix(x, ".")
		}
		if len(y) > 1 {
			y = strings.TrimSuffix(y, ".")
		}
		if !strings.EqualFold(x, y) {
			return false
		}
	}
	return true
}
