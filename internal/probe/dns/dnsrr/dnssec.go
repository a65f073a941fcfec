package dnsrr

import (
	"fmt"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/lbcheck/lbcheck/internal/probe"
)

// signatures judges --dnssec: whether m carries the signatures its kind
// of answer needs, where that kind carries them (RFC 4035 section 3.1).
// It returns a note for the summary, or why the answer is unsigned. It
// does not validate: a resolver does that (and sets AD); this proves the
// server hands out a signed zone.
//
//   - Every RRset in the answer section has an RRSIG of its own owner and
//     type, but a CNAME synthesised from a DNAME, which is never signed.
//   - A denial (NXDOMAIN, NODATA, or a CNAME chain ending in one: an SOA
//     in the authority section) has its SOA signed and at least one NSEC
//     or NSEC3, every one signed.
//   - A referral (no answer, NS but no SOA in the authority section)
//     has a signed DS, or a signed NSEC or NSEC3 proving there is none;
//     its NS RRset belongs to the child and is never signed.
//
// SOA, NSEC, NSEC3 and DS in the authority section must be signed in any
// kind of answer (a wildcard answer carries its NSEC proof there).
func signatures(m *mdns.Msg) (note, why string) {
	var dnames []string
	for _, rr := range m.Answer {
		if d, ok := rr.(*mdns.DNAME); ok {
			dnames = append(dnames, d.Hdr.Name)
		}
	}
	if why := unsignedRRset(m.Answer, func(rr mdns.RR) bool {
		if rr.Header().Rrtype != mdns.TypeCNAME {
			return true
		}
		for _, d := range dnames {
			if !strings.EqualFold(d, rr.Header().Name) && mdns.IsSubDomain(d, rr.Header().Name) {
				return false
			}
		}
		return true
	}); why != "" {
		return "", why
	}
	if why := unsignedRRset(m.Ns, func(rr mdns.RR) bool {
		switch rr.Header().Rrtype {
		case mdns.TypeSOA, mdns.TypeNSEC, mdns.TypeNSEC3, mdns.TypeDS:
			return true
		}
		return false
	}); why != "" {
		return "", why
	}
	var soa, ns, ds bool
	proof := ""
	for _, rr := range m.Ns {
		switch rr.Header().Rrtype {
		case mdns.TypeSOA:
			soa = true
		case mdns.TypeNS:
			ns = true
		case mdns.TypeDS:
			ds = true
		case mdns.TypeNSEC, mdns.TypeNSEC3:
			proof = mdns.Type(rr.Header().Rrtype).String()
		}
	}
	switch {
	case len(m.Answer) == 0 && !soa && ns && m.Rcode == mdns.RcodeSuccess:
		if ds {
			return ", signed referral (DS)", ""
		}
		if proof != "" {
			return ", signed referral (" + proof + ")", ""
		}
		return "", "a referral without DS, NSEC or NSEC3"
	case len(m.Answer) == 0 || soa || m.Rcode == mdns.RcodeNameError:
		if proof == "" {
			return "", "no NSEC or NSEC3 proves the denial"
		}
		return ", signed denial (" + proof + ")", ""
	}
	return "", ""
}

// unsignedRRset names the first RRset in rrs that need selects and no
// RRSIG in rrs covers (same owner, without case, and type), or "".
func unsignedRRset(rrs []mdns.RR, need func(mdns.RR) bool) string {
	type rrset struct {
		owner string
		typ   uint16
	}
	signed := make(map[rrset]bool)
	for _, rr := range rrs {
		if sig, ok := rr.(*mdns.RRSIG); ok {
			signed[rrset{strings.ToLower(sig.Hdr.Name), sig.TypeCovered}] = true
		}
	}
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == mdns.TypeRRSIG || !need(rr) {
			continue
		}
		if !signed[rrset{strings.ToLower(h.Name), h.Rrtype}] {
			return fmt.Sprintf("no RRSIG over %s %s", probe.Clean(h.Name, 60), mdns.Type(h.Rrtype))
		}
	}
	return ""
}
