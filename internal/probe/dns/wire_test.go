package dns

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// asMiekg unpacks raw with unpack and with miekg/dns, and says how they
// differ, or "": both refuse it, or both take it with the same header,
// the same entries in each section, and each record printed the same.
// lbcheck reads a reply with both (--expect and --dnssec): they must agree.
func asMiekg(raw []byte) string {
	ours, oerr := unpack(raw)
	m := new(mdns.Msg)
	merr := m.Unpack(raw)
	if (oerr == nil) != (merr == nil) {
		return fmt.Sprintf("unpack: %v; miekg: %v", oerr, merr)
	}
	if oerr != nil {
		return ""
	}
	for _, f := range []struct {
		what       string
		ours, them any
	}{
		{"id", ours.id, m.Id},
		{"qr", ours.response(), m.Response},
		{"opcode", ours.opcode(), m.Opcode},
		{"aa", ours.bits&flagAA != 0, m.Authoritative},
		{"tc", ours.truncated(), m.Truncated},
		{"rd", ours.bits&flagRD != 0, m.RecursionDesired},
		{"ra", ours.bits&flagRA != 0, m.RecursionAvailable},
		{"ad", ours.bits&flagAD != 0, m.AuthenticatedData},
		{"cd", ours.bits&flagCD != 0, m.CheckingDisabled},
		{"rcode", ours.rcode, m.Rcode},
		{"do", ours.opt != nil && ours.opt.ttl&flagDO != 0, m.IsEdns0() != nil && m.IsEdns0().Do()},
		{"questions", len(ours.question), len(m.Question)},
		{"answers", len(ours.sections[0]), len(m.Answer)},
		{"authority", len(ours.sections[1]), len(m.Ns)},
		{"additional", len(ours.sections[2]), len(m.Extra)},
	} {
		if f.ours != f.them {
			return fmt.Sprintf("%s: ours %v, miekg %v", f.what, f.ours, f.them)
		}
	}
	for i, q := range m.Question {
		o := ours.question[i]
		if o.name != q.Name || o.qtype != q.Qtype || o.qclass != q.Qclass {
			return fmt.Sprintf("question %d: ours %s %d %d, miekg %s %d %d", i, o.name, o.qtype, o.qclass, q.Name, q.Qtype, q.Qclass)
		}
		if wire, err := packName(q.Name); q.Name != "" && (err != nil || !bytes.Equal(wire, o.wire)) {
			return fmt.Sprintf("question %d: wire %x, from its presentation %x (%v)", i, o.wire, wire, err)
		}
	}
	for s, rrs := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
		for i, rr := range rrs {
			o := &ours.sections[s][i]
			h := rr.Header()
			text, err := o.text()
			switch {
			case err != nil:
				return fmt.Sprintf("section %d record %d: %v after unpack took it", s, i, err)
			case o.name != h.Name || o.rrtype != h.Rrtype || o.class != h.Class || o.ttl != h.Ttl:
				return fmt.Sprintf("section %d record %d: header ours %q %d %d %d, miekg %q %d %d %d", s, i,
					o.name, o.rrtype, o.class, o.ttl, h.Name, h.Rrtype, h.Class, h.Ttl)
			case text != rr.String():
				return fmt.Sprintf("section %d record %d:\n ours  %q\n miekg %q", s, i, text, rr.String())
			case o.header() != h.String():
				return fmt.Sprintf("section %d record %d: header ours %q, miekg %q", s, i, o.header(), h.String())
			}
		}
	}
	return ""
}

// samples are records of every type miekg/dns knows and some it does not,
// with the data that takes each reader's paths, in presentation form.
var samples = []string{
	"x. 300 IN A 192.0.2.1",
	"x. 300 IN NS ns.example.",
	"x. 300 IN MD md.example.",
	"x. 300 IN MF mf.example.",
	"x. 300 IN CNAME c.example.",
	"x. 300 IN SOA ns.x. h.x. 7 3600 600 86400 300",
	"x. 300 IN SOA . . 4294967295 0 1 2 3",
	"x. 300 IN MB mb.example.",
	"x. 300 IN MG mg.example.",
	"x. 300 IN MR mr.example.",
	"x. 300 IN PTR p.example.",
	`x. 300 IN HINFO "INTEL" "Linux \"x\" \\ \255"`,
	"x. 300 IN MINFO r.x. e.x.",
	"x. 300 IN MX 10 mx.example.",
	`x. 300 IN TXT "a b" "c\"d" "\255\000\\" ""`,
	"x. 300 IN RP m.x. t.x.",
	"x. 300 IN AFSDB 1 afs.x.",
	"x. 300 IN X25 311061700956",
	`x. 300 IN ISDN "150862028003217" "004"`,
	"x. 300 IN RT 10 rt.x.",
	"x. 300 IN NSAP-PTR n.x.",
	"x. 300 IN SIG A 13 2 300 20300101000000 20200101000000 12345 x. c2lnbmF0dXJl",
	"x. 300 IN KEY 256 3 13 a2V5",
	"x. 300 IN PX 10 a.x. b.x.",
	"x. 300 IN GPOS -32.6882 116.8652 10.0",
	"x. 300 IN AAAA 2001:db8::1",
	"x. 300 IN AAAA ::ffff:192.0.2.1",
	"x. 300 IN AAAA ::",
	"x. 300 IN LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
	"x. 300 IN LOC 31 39 35.160 S 116 51 10.350 W 1234567.89m 90000000m 2m 0.01m",
	"x. 300 IN EID 0A0B",
	"x. 300 IN NIMLOC 0C0D",
	"x. 300 IN SRV 1 2 3 t.x.",
	`x. 300 IN NAPTR 100 10 "S" "SIP+D2U" "!^.*$!sip:x@y!" _sip._udp.x.`,
	"x. 300 IN KX 10 kx.x.",
	"x. 300 IN CERT PKIX 1 RSASHA256 Y2VydA==",
	"x. 300 IN CERT 100 1 200 Y2VydA==",
	"x. 300 IN DNAME y.x.",
	"x. 300 IN APL 1:192.168.32.0/21 !1:192.168.38.0/28 2:2001:db8::/32 2:::ffff:1.2.3.4/128 1:0.0.0.0/0",
	"x. 300 IN DS 12345 13 2 49FD46E6C4B45C55D4AC",
	"x. 300 IN SSHFP 1 1 dd465c09cfa51fb45020cc83316fff21b9ec74ac",
	"x. 300 IN IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
	"x. 300 IN IPSECKEY 10 0 2 . AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
	"x. 300 IN IPSECKEY 10 2 2 2001:db8::1 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
	"x. 300 IN IPSECKEY 10 3 2 gw.x. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
	"x. 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 12345 x. c2lnbmF0dXJl",
	"x. 300 IN RRSIG TYPE4321 8 3 86400 19700101000000 21060207062815 1 . Zw==",
	"x. 300 IN NSEC y.x. A NS SOA RRSIG NSEC DNSKEY TYPE1234 TYPE65535",
	"x. 300 IN NSEC y.x.",
	"x. 300 IN DNSKEY 257 3 13 a2V5",
	"x. 300 IN DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=",
	"x. 300 IN NSEC3 1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG",
	"x. 300 IN NSEC3 1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s",
	"x. 300 IN NSEC3PARAM 1 0 12 aabbccdd",
	"x. 300 IN NSEC3PARAM 1 0 0 -",
	"x. 300 IN TLSA 3 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6",
	"x. 300 IN SMIMEA 3 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6",
	"x. 300 IN HIP 2 200100107B1A74DF365639CC39F1D578 AwEAAbdxyhNuSutc5EMzxTs9LBPCIkOFH8cIvM4p9+LrV4e19WzK00+CI6zBCQTdtWsuxKbWIy87UOoJTwkUs7lBu+Upr1gsNrut79ryra+bSRGQb1slImA8YVJyuIDsj7kwzG7jnERNqnWxZ48AWkskmdHaVDP4BcelrTI3rMXdXF5D rvs1.example.com. rvs2.example.com.",
	`x. 300 IN NINFO "a" "b"`,
	"x. 300 IN RKEY 0 3 13 a2V5",
	"x. 300 IN TALINK a.x. b.x.",
	"x. 300 IN CDS 12345 13 2 49FD46E6C4B45C55D4AC",
	"x. 300 IN CDNSKEY 257 3 13 a2V5",
	"x. 300 IN OPENPGPKEY a2V5a2V5",
	"x. 300 IN CSYNC 66 3 A NS AAAA",
	"x. 300 IN ZONEMD 2018031900 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE",
	`x. 300 IN SVCB 1 svc.x. mandatory=alpn,port alpn="h2,h3,a\\,b,c\\\\d,e f" no-default-alpn port=8443 ipv4hint=192.0.2.1,192.0.2.2 ech=AEn+DQBF ipv6hint=2001:db8::1,::1 dohpath=/q{?dns} ohttp key667="hel\"lo\\ x"`,
	"x. 300 IN HTTPS 1 . alpn=h3",
	"x. 300 IN HTTPS 0 target.x.",
	`x. 300 IN SPF "v=spf1 -all"`,
	`x. 300 IN UINFO "info"`,
	"x. 300 IN UID 1000",
	"x. 300 IN GID 4294967295",
	"x. 300 IN NID 10 0014:4fff:ff20:ee64",
	"x. 300 IN L32 10 10.1.2.0",
	"x. 300 IN L64 10 2001:0DB8:1140:1000",
	"x. 300 IN LP 10 l64.x.",
	"x. 300 IN EUI48 00-00-5e-00-53-2a",
	"x. 300 IN EUI64 00-00-5e-ef-10-00-00-2a",
	`x. 300 IN URI 10 1 "ftp://ftp1.example.com/public"`,
	`x. 300 IN URI 10 1 "a\\065b\\.c\\"`,
	`x. 300 IN CAA 0 issue "ca.example.net; account=230123"`,
	`x. 300 IN CAA 128 tbs "\"\\\255\001"`,
	`x. 300 IN AVC "app-name:WOLFGANG|app-class:OAM"`,
	"x. 300 IN AMTRELAY 10 0 1 203.0.113.15",
	"x. 300 IN AMTRELAY 10 1 3 relay.x.",
	"x. 300 IN AMTRELAY 10 0 0 .",
	"x. 300 IN AMTRELAY 10 1 2 2001:db8::15",
	`x. 300 IN RESINFO "qnamemin" "exterr=15,16,17"`,
	"x. 300 IN TA 12345 13 2 49FD46E6",
	"x. 300 IN DLV 12345 13 2 49FD46E6",
	`x. 300 IN TYPE1234 \# 2 abcd`,
	`x. 300 IN TYPE34 \# 3 010203`,
	`x. 300 IN TYPE103 \# 0`,
	`x. 300 IN TYPE65535 \# 1 ff`,
	`x. 300 CH TXT "chaos"`,
	"x. 300 CLASS255 A 192.0.2.1",
	"x. 300 CLASS254 A 192.0.2.1",
	"x. 300 CLASS1234 TYPE1234 \\# 1 01",
	"x. 300 HS MX 10 hs.x.",
	`a\.b\032c\@\\d\(\)\;\"\'.x. 300 IN A 192.0.2.1`,
	`\200\001.x. 300 IN CNAME \255.\000.x.`,
	"x. 4294967295 IN A 192.0.2.1",
}

// sampleRRs parses samples and adds the kinds that have no presentation
// form.
func sampleRRs(t testing.TB) []mdns.RR {
	var rrs []mdns.RR
	for _, s := range samples {
		rr, err := mdns.NewRR(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		rrs = append(rrs, rr)
	}
	hdr := func(t uint16) mdns.RR_Header {
		return mdns.RR_Header{Name: "x.", Rrtype: t, Class: mdns.ClassINET, Ttl: 300}
	}
	smimea := &mdns.SMIMEA{Hdr: hdr(mdns.TypeSMIMEA), Usage: 3, Selector: 1, MatchingType: 1, Certificate: strings.Repeat("ab", 512)}
	smimea2 := &mdns.SMIMEA{Hdr: hdr(mdns.TypeSMIMEA), Usage: 3, Selector: 1, MatchingType: 1, Certificate: strings.Repeat("cd", 1100)}
	return append(rrs,
		&mdns.NULL{Hdr: hdr(mdns.TypeNULL), Data: "\x00abc\xff"},
		&mdns.ANY{Hdr: hdr(mdns.TypeANY)},
		&mdns.NXNAME{Hdr: hdr(mdns.TypeNXNAME)},
		&mdns.TKEY{Hdr: hdr(mdns.TypeTKEY), Algorithm: "gss-tsig.", Inception: 1, Expiration: 4000000000, Mode: 3, Error: 0, KeySize: 2, Key: "abcd", OtherLen: 1, OtherData: "ef"},
		&mdns.TSIG{Hdr: mdns.RR_Header{Name: "key.", Rrtype: mdns.TypeTSIG, Class: mdns.ClassANY}, Algorithm: "hmac-sha256.", TimeSigned: 1700000000, Fudge: 300, MACSize: 2, MAC: "abcd", OrigId: 7, Error: 16, OtherLen: 0},
		smimea, smimea2,
	)
}

// rawRR packs one record by hand: owner in wire form, then the rest.
func rawRR(owner []byte, typ, class uint16, ttl uint32, data []byte) []byte {
	b := append([]byte(nil), owner...)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, class)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// rawMsg is a reply to "x. A" with the given records in its answer and
// additional sections.
func rawMsg(answer, additional [][]byte) []byte {
	b := []byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, byte(len(answer)), 0, 0, 0, byte(len(additional))}
	b = append(b, 1, 'x', 0, 0, 1, 0, 1)
	for _, rr := range append(answer, additional...) {
		b = append(b, rr...)
	}
	return b
}

// options are EDNS options of every kind, well and badly formed.
var options = []struct {
	code uint16
	data string // hex
}{
	{1, "000100020003000000000000000400000005"}, {1, "0001"}, {1, "00010002000300000000000000040000000599"},
	{2, "00000e10"}, {2, "00000e1000000e10"}, {2, "000e10"},
	{3, "6c62c3a9"}, {3, ""},
	{4, "7369703a78"},
	{5, "080d0fff"}, {6, "0102ff"}, {7, "01"},
	{8, "00011800c0000200"}, {8, "0001200c"}, {8, "00022000200107f8"}, {8, "0002800000000000000000000000ffffc0000201ffffffff"},
	{8, "00000000"}, {8, "00000004"}, {8, "00001800"}, {8, "00012100"}, {8, "00030000"}, {8, "000100"},
	{9, ""}, {9, "00000e10"}, {9, "000e"}, {9, "00000e1099"},
	{10, "0102030405060708"},
	{11, ""}, {11, "0007"}, {11, "0300"}, {11, "07"},
	{12, "000000"}, {12, ""},
	{15, "0012"}, {15, "0006626f677573"}, {15, "ffff"}, {15, "00"},
	{18, "0161026c6200"}, {18, "01610200"}, {18, "0161"},
	{19, "0100"}, {19, "0100323032"}, {19, "01"},
	{65001, "beef"}, {0, ""},
}

// generated are replies of the kinds no presentation form gives: OPT
// records with options, and with every extended rcode and flag.
func generated() [][]byte {
	var out [][]byte
	root := []byte{0}
	a := rawRR([]byte{1, 'x', 0}, 1, 1, 300, []byte{192, 0, 2, 1})
	for _, o := range options {
		data, _ := hex.DecodeString(o.data)
		opt := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, o.code), uint16(len(data)))
		opt = append(opt, data...)
		out = append(out,
			rawMsg([][]byte{a}, [][]byte{rawRR(root, typeOPT, 1232, 0x8000, opt)}),
			rawMsg([][]byte{rawRR(root, typeOPT, 512, 0x01ff3fff, opt)}, nil))
	}
	for _, ttl := range []uint32{0, 0x01000000, 0xff008000, 0x00017fff, 0x4000} {
		out = append(out, rawMsg([][]byte{a}, [][]byte{rawRR(root, typeOPT, 4096, ttl, nil), rawRR(root, typeOPT, 1232, ttl^0xff000000, nil)}))
	}
	// OPT in the answer section, as a pseudo-section.
	out = append(out, rawMsg([][]byte{rawRR(root, typeOPT, 1232, 0x00008000, []byte{0, 3, 0, 2, 'l', 'b', 0, 10, 0, 0})}, nil))
	return out
}

// packed returns msg's wire form, compressed or not.
func packMsg(t testing.TB, m *mdns.Msg, compress bool) []byte {
	m.Compress = compress
	raw, err := m.Pack()
	if err != nil {
		t.Fatalf("%v\n%v", err, m)
	}
	return raw
}

// TestRecordsAsMiekg: records of every type, whole, with their data cut
// at every length and with octets added, alone at the end of the message
// and followed by another record, read and printed as miekg/dns does.
func TestRecordsAsMiekg(t *testing.T) {
	var n int
	check := func(name string, raw []byte) {
		t.Helper()
		n++
		if why := asMiekg(raw); why != "" {
			t.Errorf("%s: %s\n%x", name, why, raw)
		}
	}
	q := new(mdns.Msg)
	q.SetQuestion("x.", mdns.TypeA)
	a := rawRR([]byte{1, 'x', 0}, 1, 1, 300, []byte{192, 0, 2, 1})
	for _, rr := range sampleRRs(t) {
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Answer = []mdns.RR{rr}
		for _, compress := range []bool{false, true} {
			check(rr.String(), packMsg(t, m, compress))
		}
		// The record alone, by hand: data cut and grown.
		raw := packMsg(t, m, false)
		msg, err := unpack(raw)
		if err != nil {
			t.Fatalf("%s: %v", rr, err)
		}
		rec := msg.sections[0][0]
		owner := raw[12+len("\x01x\x00")+4 : rec.data-10]
		data := rec.msg[rec.data:]
		for cut := 0; cut <= len(data)+3; cut++ {
			d := append([]byte(nil), data[:min(cut, len(data))]...)
			for len(d) < cut {
				d = append(d, byte(len(d)))
			}
			r := rawRR(owner, rec.rrtype, rec.class, rec.ttl, d)
			check(fmt.Sprintf("%s cut at %d", rr, cut), rawMsg([][]byte{r}, nil))
			check(fmt.Sprintf("%s cut at %d, then A", rr, cut), rawMsg([][]byte{r, a}, nil))
		}
	}
	for i, raw := range generated() {
		check(fmt.Sprintf("generated %d", i), raw)
	}
	// A record with no data, of every type (and some it does not know).
	for typ := range 300 {
		check(fmt.Sprintf("type %d without data", typ), rawMsg([][]byte{rawRR([]byte{0}, uint16(typ), 1, 0, nil)}, nil))
	}
	for _, typ := range []uint16{32768, 32769, 65535} {
		check(fmt.Sprintf("type %d without data", typ), rawMsg([][]byte{rawRR([]byte{0}, typ, 1, 0, nil)}, nil))
	}
	t.Logf("%d messages", n)
}

// TestMessagesAsMiekg: how a message may end, and what is wrong in one,
// read as miekg/dns reads it.
func TestMessagesAsMiekg(t *testing.T) {
	a := rawRR([]byte{1, 'x', 0}, 1, 1, 300, []byte{192, 0, 2, 1})
	one := rawMsg([][]byte{a}, nil)
	withCounts := func(b []byte, qd, an, ns, ar uint16) []byte {
		b = append([]byte(nil), b...)
		for i, c := range []uint16{qd, an, ns, ar} {
			binary.BigEndian.PutUint16(b[4+2*i:], c)
		}
		return b
	}
	// name is a name in wire form of three labels of 63 octets and one of
	// n: 255 octets in all with n = 61, the most there may be.
	name := func(n int) []byte {
		var b []byte
		for _, l := range []int{63, 63, 63, n} {
			b = append(append(b, byte(l)), bytes.Repeat([]byte{'a'}, l)...)
		}
		return append(b, 0)
	}
	tests := []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"eleven octets", one[:11]},
		{"header alone", one[:12]},
		{"header alone, counts", withCounts(one[:12], 5, 5, 5, 5)},
		{"question cut in its name", one[:14]},
		{"question without type", one[:15]},
		{"question with half a type", one[:16]},
		{"question without class", one[:17]},
		{"question with half a class", one[:18]},
		{"question alone", one[:19]},
		{"two questions claimed", withCounts(one, 2, 1, 0, 0)},
		{"no question claimed", withCounts(one, 0, 1, 0, 0)},
		{"answers claimed past the end", withCounts(one, 1, 9, 3, 2)},
		{"fewer answers claimed", withCounts(one, 1, 0, 0, 0)},
		{"record cut in its owner", one[:20]},
		{"record cut in its header", one[:25]},
		{"record data past the end", one[:len(one)-1]},
		{"trailing octets", append(append([]byte(nil), one...), 1, 2, 3)},
		{"pointer loop", append(one[:12:12], 0xc0, 12, 0, 1, 0, 1)},
		{"pointer forward", append(one[:12:12], 0xc0, 18, 0, 1, 0, 1, 1, 'y', 0)},
		{"pointer past the end", append(one[:12:12], 0xc0, 200, 0, 1, 0, 1)},
		{"pointer cut", append(one[:12:12], 0xc0)},
		{"reserved label type", append(one[:12:12], 0x40, 0, 1, 0, 1)},
		{"label type 0x80", append(one[:12:12], 0x80, 0, 1, 0, 1)},
		{"name of 255 octets", append(append(one[:12:12], name(61)...), 0, 1, 0, 1)},
		{"name of 256 octets", append(append(one[:12:12], name(62)...), 0, 1, 0, 1)},
		{"name of 257 octets", append(append(one[:12:12], name(63)...), 0, 1, 0, 1)},
		{"rdata name pointing past the data", rawMsg([][]byte{rawRR([]byte{0}, typeCNAME, 1, 0, []byte{0xc0, 30})}, nil)},
		{"rdata name pointing into the next record", rawMsg([][]byte{rawRR([]byte{0}, typeCNAME, 1, 0, []byte{0xc0, 32}), a}, nil)},
		{"rdata name pointing back", rawMsg([][]byte{rawRR([]byte{0}, typeCNAME, 1, 0, []byte{0xc0, 12})}, nil)},
		{"rdata field reading the next record", rawMsg([][]byte{rawRR([]byte{0}, typeA, 1, 0, []byte{1, 2}), a}, nil)},
	}
	for i := 1; i < 8; i++ {
		opcode := one
		opcode = append([]byte(nil), opcode...)
		opcode[2] = opcode[2]&^0x78 | byte(i)<<3
		tests = append(tests, struct {
			name string
			raw  []byte
		}{fmt.Sprintf("opcode %d", i), opcode})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if why := asMiekg(tt.raw); why != "" {
				t.Errorf("%s\n%x", why, tt.raw)
			}
		})
	}
}

// FuzzUnpackAsMiekg: whatever the bytes, unpack and miekg/dns take and
// refuse the same messages, and read the same from those they take.
func FuzzUnpackAsMiekg(f *testing.F) {
	q := new(mdns.Msg)
	q.SetQuestion("x.", mdns.TypeA)
	for _, rr := range sampleRRs(f) {
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Answer = []mdns.RR{rr}
		f.Add(packMsg(f, m, true))
	}
	for _, raw := range generated() {
		f.Add(raw)
	}
	for _, c := range captured(f) {
		f.Add(c.raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if why := asMiekg(raw); why != "" {
			t.Fatalf("%s\n%x", why, raw)
		}
	})
}

// TestEncodings: the base64 and base32 the records print, against the
// standard library's.
func TestEncodings(t *testing.T) {
	b32 := base32.HexEncoding.WithPadding(base32.NoPadding)
	for n := range 70 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + n)
		}
		if got, want := b64(b), base64.StdEncoding.EncodeToString(b); got != want {
			t.Errorf("b64(%x) = %s, want %s", b, got, want)
		}
		if got, want := b32hex(b), b32.EncodeToString(b); got != want {
			t.Errorf("b32hex(%x) = %s, want %s", b, got, want)
		}
	}
	if got := ip(nil); got != net.IP(nil).String() {
		t.Errorf("ip(nil) = %q", got)
	}
}

func TestSOASerial(t *testing.T) {
	// example.org. SOA ns.example.org. admin.example.org. 2026120701 ...,
	// packed as a reply's answer by hand.
	rdata := []byte{2, 'n', 's', 0, 5, 'a', 'd', 'm', 'i', 'n', 0, 0x78, 0xc3, 0x68, 0x3d, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4}
	tests := []struct {
		name   string
		rrs    []record
		serial uint32
		ok     bool
	}{
		{"soa", []record{{msg: rdata, rrtype: 6}}, 0x78c3683d, true},
		{"no soa", []record{{msg: []byte{1, 2, 3, 4}, rrtype: 1}}, 0, false},
		{"cut short", []record{{msg: rdata[:13], rrtype: 6}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serial, ok := soaSerial(tt.rrs)
			if serial != tt.serial || ok != tt.ok {
				t.Errorf("soaSerial = %d, %v; want %d, %v", serial, ok, tt.serial, tt.ok)
			}
		})
	}
}

// FuzzSOASerial: any bytes as an SOA record's data never panic, and a
// serial is read only from data long enough to hold one.
func FuzzSOASerial(f *testing.F) {
	f.Add([]byte{2, 'n', 's', 0, 0, 0x78, 0xc3, 0x68, 0x3d, 0, 0, 0, 1})
	f.Add([]byte{0xc0, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, ok := soaSerial([]record{{msg: data, rrtype: 6}})
		if ok && len(data) < 6 {
			t.Errorf("a serial from %d bytes", len(data))
		}
	})
}
