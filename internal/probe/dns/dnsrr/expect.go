package dnsrr

import (
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// findExpected returns the first answer record whose data is want, or nil.
//
// "Data" is what an operator writes: an address for A and AAAA (any
// spelling of the same address), one string of a TXT record (or all of
// them joined), and otherwise the record's presentation form after the
// type ("www.example.org." for a CNAME, "10 mx.example.org." for an MX),
// compared field by field, without case and with or without the final dot
// of a name.
func findExpected(rrs []mdns.RR, want string) mdns.RR {
	want = strings.TrimSpace(want)
	wantIP, err := netip.ParseAddr(want)
	wantIsIP := err == nil
	for _, rr := range rrs {
		switch r := rr.(type) {
		case *mdns.A:
			if ip, ok := netip.AddrFromSlice(r.A); wantIsIP && ok && ip.Unmap() == wantIP.Unmap() {
				return rr
			}
			continue
		case *mdns.AAAA:
			if ip, ok := netip.AddrFromSlice(r.AAAA); wantIsIP && ok && ip == wantIP {
				return rr
			}
			continue
		case *mdns.TXT:
			if txtMatch(r.Txt, want) {
				return rr
			}
		case *mdns.SPF:
			if txtMatch(r.Txt, want) {
				return rr
			}
		}
		if sameFields(rdata(rr), want) {
			return rr
		}
	}
	return nil
}

func txtMatch(txt []string, want string) bool {
	for _, s := range txt {
		if s == want {
			return true
		}
	}
	return len(txt) > 1 && strings.Join(txt, "") == want
}

// rdata is a record's presentation form without the owner, TTL, class
// and type.
func rdata(rr mdns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

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
