package dns

import (
	"encoding/binary"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/lbcheck/lbcheck/internal/exitcode"
)

// reply builds a packed reply to "www.example. A" with the given rcode and
// sections, each record in presentation form.
func reply(t testing.TB, rcode int, answer, authority, additional []string) []byte {
	t.Helper()
	q := new(mdns.Msg)
	q.SetQuestion("www.example.", mdns.TypeA)
	m := new(mdns.Msg)
	m.SetRcode(q, rcode)
	for _, sec := range []struct {
		to   *[]mdns.RR
		from []string
	}{{&m.Answer, answer}, {&m.Ns, authority}, {&m.Extra, additional}} {
		for _, s := range sec.from {
			*sec.to = append(*sec.to, mustRR(t, s))
		}
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withCounts writes section counts over a packed message's header.
func withCounts(b []byte, qd, an, ns, ar uint16) []byte {
	b = append([]byte(nil), b...)
	for i, c := range []uint16{qd, an, ns, ar} {
		binary.BigEndian.PutUint16(b[4+2*i:], c)
	}
	return b
}

// TestMalformed: a reply whose header counts do not match the records in
// it, or with bytes after the last record, is not an answer (issue 13,
// item 5): miekg/dns unpacks it leniently, so the probe must look.
func TestMalformed(t *testing.T) {
	one := reply(t, 0, []string{"www.example. 1 IN A 192.0.2.1"}, nil, nil)
	withOPT := func() []byte {
		q := new(mdns.Msg)
		q.SetQuestion("www.example.", mdns.TypeA)
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Answer = []mdns.RR{mustRR(t, "www.example. 1 IN A 192.0.2.1")}
		m.SetEdns0(1232, false)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	truncated := func(an uint16) []byte {
		b := withCounts(one, 1, an, 0, 0)
		b[2] |= 0x02 // TC
		return b
	}
	headerOnly := withCounts(one, 1, 0, 0, 0)[:12]
	headerOnly[3] = headerOnly[3]&^0xF | 5 // REFUSED
	tests := []struct {
		name    string
		answer  []byte
		state   exitcode.State
		summary string
	}{
		{"well formed", one, exitcode.OK, "NOERROR, 1 answer (A 192.0.2.1)"},
		// Some servers refuse with the header alone, still counting the
		// question: an answer to judge by its rcode, as miekg/dns reads it.
		{"header only, counts kept", headerOnly, exitcode.Critical, "REFUSED"},
		{"well formed with OPT", withOPT, exitcode.OK, "NOERROR, 1 answer (A 192.0.2.1)"},
		{"65535 answers claimed, one there", withCounts(one, 1, 65535, 0, 0), exitcode.Critical, "malformed reply from 192.0.2.1:53/tcp: the header counts 65535 answers, 1 present"},
		{"two answers claimed", withCounts(one, 1, 2, 0, 0), exitcode.Critical, "malformed reply from 192.0.2.1:53/tcp: the header counts 2 answers, 1 present"},
		{"authority claimed", withCounts(one, 1, 1, 3, 0), exitcode.Critical, "the header counts 3 authority records, 0 present"},
		{"additional claimed", withCounts(withOPT, 1, 1, 0, 9), exitcode.Critical, "the header counts 9 additional records, 1 present"},
		{"trailing bytes", append(append([]byte(nil), one...), "junk"...), exitcode.Critical, "malformed reply from 192.0.2.1:53/tcp: 4 bytes after the last record"},
		{"trailing zero byte", append(append([]byte(nil), one...), 0), exitcode.Critical, "1 byte after the last record"},
		{"question cut short", withCounts(one, 1, 0, 0, 0)[:12+len("\x03www\x07example\x00")], exitcode.Critical, "malformed reply from 192.0.2.1:53/tcp: the question is cut short"},
		// A server that truncates over UDP may stop at a record boundary
		// and keep the counts of the whole answer.
		{"truncated, counts of the whole", truncated(3), exitcode.OK, "NOERROR, 1 answer (A 192.0.2.1), truncated"},
		// miekg/dns reads the junk as the second answer and gives up.
		{"truncated, trailing bytes", append(truncated(3), "junk"...), exitcode.Critical, "not a DNS message"},
		{"truncated, fewer claimed than present", truncated(0), exitcode.Critical, "27 bytes after the last record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Name: "www.example.", Type: "A", Rcodes: "NOERROR"}
			r := exchangeWith(t, &o, tt.answer)
			if r.State != tt.state || !strings.Contains(r.Summary, tt.summary) {
				t.Errorf("got %v %q\nwant %v containing %q", r.State, r.Summary, tt.state, tt.summary)
			}
		})
	}
}

// Records of a signed zone example., in presentation form.
const (
	soa       = "example. 300 IN SOA ns.example. h.example. 1 3600 600 86400 300"
	sigSOA    = "example. 300 IN RRSIG SOA 13 1 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	aRec      = "www.example. 300 IN A 192.0.2.1"
	sigA      = "www.example. 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	sigAOther = "mail.example. 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	sigAAAA   = "www.example. 300 IN RRSIG AAAA 13 2 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	cname     = "www.example. 300 IN CNAME web.example."
	sigCNAME  = "www.example. 300 IN RRSIG CNAME 13 2 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	aWeb      = "web.example. 300 IN A 192.0.2.1"
	sigAWeb   = "web.example. 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	nsecWWW   = "www.example. 300 IN NSEC z.example. TXT RRSIG NSEC"
	sigNSEC   = "www.example. 300 IN RRSIG NSEC 13 2 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	nsecApex  = "example. 300 IN NSEC a.example. SOA NS RRSIG NSEC DNSKEY"
	sigNSECA  = "example. 300 IN RRSIG NSEC 13 1 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	nsec3     = "2vptu5timamqttgl4luu9kg21e0aor3s.example. 300 IN NSEC3 1 0 0 - 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3T TXT RRSIG"
	sigNSEC3  = "2vptu5timamqttgl4luu9kg21e0aor3s.example. 300 IN RRSIG NSEC3 13 2 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	nsec3b    = "35mthgpgcu1qg68fab165klnsnk3dpvl.example. 300 IN NSEC3 1 0 0 - 35MTHGPGCU1QG68FAB165KLNSNK3DPVM A RRSIG"
	sigNSEC3b = "35mthgpgcu1qg68fab165klnsnk3dpvl.example. 300 IN RRSIG NSEC3 13 2 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	delegNS   = "www.example. 300 IN NS ns.www.example."
	ds        = "www.example. 300 IN DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE8B9B2B4A0C7A2F1F0C3E2D1A"
	sigDS     = "www.example. 300 IN RRSIG DS 13 2 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	dname     = "example. 300 IN DNAME example.net."
	sigDNAME  = "example. 300 IN RRSIG DNAME 13 1 300 20300101000000 20200101000000 12345 example. c2lnbmF0dXJl"
	synthCN   = "www.example. 300 IN CNAME www.example.net."
	aNet      = "www.example.net. 300 IN A 192.0.2.1"
	sigANet   = "www.example.net. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 12345 example.net. c2lnbmF0dXJl"
)

// TestDNSSEC: --dnssec looks for each kind of answer's signatures where
// that kind carries them (issue 13, item 6): a positive answer in the
// answer section, a denial (NODATA, NXDOMAIN) in the authority section
// (SOA and NSEC/NSEC3, each with its RRSIG), a referral by its DS or its
// signed proof that there is none. Every RRset that must be signed must
// be, by an RRSIG of its own owner and type. Before the fix every signed
// denial and referral was CRITICAL, and a positive answer passed with any
// RRSIG in it (another type's, another owner's, one of a CNAME chain).
func TestDNSSEC(t *testing.T) {
	const nx = mdns.RcodeNameError
	s := func(rr ...string) []string { return rr }
	tests := []struct {
		name    string
		rcode   int
		an, ns  []string
		state   exitcode.State
		summary string
	}{
		{"positive signed", 0, s(aRec, sigA), nil, exitcode.OK, "NOERROR, 2 answers (A 192.0.2.1, RRSIG A "},
		{"positive unsigned", 0, s(aRec), nil, exitcode.Critical, "unsigned: no RRSIG over www.example. A"},
		{"positive signed by a signature of another type", 0, s(aRec, sigAAAA), nil, exitcode.Critical, "no RRSIG over www.example. A"},
		{"positive signed for another owner", 0, s(aRec, sigAOther), nil, exitcode.Critical, "no RRSIG over www.example. A"},
		{"cname chain signed", 0, s(cname, sigCNAME, aWeb, sigAWeb), nil, exitcode.OK, "NOERROR, 4 answers"},
		{"cname chain, target unsigned", 0, s(cname, sigCNAME, aWeb), nil, exitcode.Critical, "no RRSIG over web.example. A"},
		{"dname, synthesised cname unsigned as it must be", 0, s(dname, sigDNAME, synthCN, aNet, sigANet), nil, exitcode.OK, "NOERROR, 5 answers"},
		{"nodata nsec", 0, nil, s(soa, sigSOA, nsecWWW, sigNSEC), exitcode.OK, "NOERROR, no answers, signed denial (NSEC) from"},
		{"nodata nsec3", 0, nil, s(soa, sigSOA, nsec3, sigNSEC3), exitcode.OK, "NOERROR, no answers, signed denial (NSEC3) from"},
		{"nxdomain nsec", nx, nil, s(soa, sigSOA, nsecWWW, sigNSEC, nsecApex, sigNSECA), exitcode.OK, "NXDOMAIN, no answers, signed denial (NSEC) from"},
		{"nxdomain nsec3", nx, nil, s(soa, sigSOA, nsec3, sigNSEC3, nsec3b, sigNSEC3b), exitcode.OK, "NXDOMAIN, no answers, signed denial (NSEC3) from"},
		{"cname then nodata", 0, s(cname, sigCNAME), s(soa, sigSOA, nsecWWW, sigNSEC), exitcode.OK, "signed denial (NSEC)"},
		{"cname then unsigned nxdomain", nx, s(cname, sigCNAME), s(soa), exitcode.Critical, "no RRSIG over example. SOA"},
		{"nodata unsigned", 0, nil, s(soa), exitcode.Critical, "unsigned: no RRSIG over example. SOA"},
		{"nxdomain unsigned", nx, nil, s(soa), exitcode.Critical, "unsigned: no RRSIG over example. SOA"},
		{"nodata, soa signed, no proof", 0, nil, s(soa, sigSOA), exitcode.Critical, "unsigned: no NSEC or NSEC3 proves the denial"},
		{"nodata, nsec unsigned", 0, nil, s(soa, sigSOA, nsecWWW), exitcode.Critical, "no RRSIG over www.example. NSEC"},
		{"nxdomain, one nsec3 of two unsigned", nx, nil, s(soa, sigSOA, nsec3, sigNSEC3, nsec3b), exitcode.Critical, "no RRSIG over 35mthgpgcu1qg68fab165klnsnk3dpvl.example. NSEC3"},
		{"nxdomain, soa unsigned", nx, nil, s(soa, nsecWWW, sigNSEC), exitcode.Critical, "no RRSIG over example. SOA"},
		{"empty", 0, nil, nil, exitcode.Critical, "unsigned: no NSEC or NSEC3 proves the denial"},
		{"referral signed", 0, nil, s(delegNS, ds, sigDS), exitcode.OK, "NOERROR, no answers, signed referral (DS) from"},
		{"referral insecure, proven", 0, nil, s(delegNS, nsecWWW, sigNSEC), exitcode.OK, "NOERROR, no answers, signed referral (NSEC) from"},
		{"referral unsigned", 0, nil, s(delegNS), exitcode.Critical, "unsigned: a referral without DS, NSEC or NSEC3"},
		{"referral, ds unsigned", 0, nil, s(delegNS, ds), exitcode.Critical, "no RRSIG over www.example. DS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Name: "www.example.", Type: "A", Rcodes: "NOERROR,NXDOMAIN", DNSSEC: true}
			r := exchangeWith(t, &o, reply(t, tt.rcode, tt.an, tt.ns, nil))
			if r.State != tt.state || !strings.Contains(r.Summary, tt.summary) {
				t.Errorf("got %v %q\nwant %v containing %q", r.State, r.Summary, tt.state, tt.summary)
			}
		})
	}
}
