package dns

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// miekgFindExpected is --expect as lbcheck judged it on miekg/dns's
// records (internal/probe/dns/dnsrr, up to the commit that moved it
// here), kept as the reference findExpected must agree with. It compares
// with the same rules (txtMatch, sameFields): what it checks is our
// reading of the records against miekg's.
func miekgFindExpected(rrs []mdns.RR, want string) mdns.RR {
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
		if sameFields(strings.TrimPrefix(rr.String(), rr.Header().String()), want) {
			return rr
		}
	}
	return nil
}

// expectAgrees runs one --expect over the answer section of raw with
// findExpected and with the reference, and says how they differ, or "".
// The record each finds must be the same one (the -v trace names it).
func expectAgrees(raw []byte, want string) (found bool, why string) {
	m := new(mdns.Msg)
	merr := m.Unpack(raw)
	ours, oerr := unpack(raw)
	if (merr == nil) != (oerr == nil) {
		return false, "unpack: ours " + errText(oerr) + ", miekg " + errText(merr)
	}
	if oerr != nil {
		return false, ""
	}
	got, ref := -1, -1
	answer := ours.answer()
	if r := findExpected(answer, want); r != nil {
		for i := range answer {
			if &answer[i] == r {
				got = i
			}
		}
	}
	if r := miekgFindExpected(m.Answer, want); r != nil {
		for i := range m.Answer {
			if m.Answer[i] == r {
				ref = i
			}
		}
	}
	if got != ref {
		return got >= 0, "ours finds record " + u(uint64(got+1)) + ", the reference " + u(uint64(ref+1)) + " (0: none)"
	}
	return got >= 0, ""
}

func errText(err error) string {
	if err == nil {
		return "took it"
	}
	return err.Error()
}

// answerOf packs a reply to "x. A" whose answer section holds rrs.
func answerOf(t testing.TB, rrs ...mdns.RR) []byte {
	t.Helper()
	q := new(mdns.Msg)
	q.SetQuestion("x.", mdns.TypeA)
	m := new(mdns.Msg)
	m.SetReply(q)
	m.Answer = rrs
	return packMsg(t, m, true)
}

// TestFindExpected: what --expect matches, record by record, in the
// plain reader and in the reference (the same record, or none, in both).
func TestFindExpected(t *testing.T) {
	tests := []struct {
		name string
		rrs  []string
		want string
		ok   bool
	}{
		{"a", []string{"x. 1 IN A 192.0.2.1"}, "192.0.2.1", true},
		{"a padded", []string{"x. 1 IN A 192.0.2.1"}, " 192.0.2.1\t", true},
		{"a other", []string{"x. 1 IN A 192.0.2.1"}, "192.0.2.10", false},
		{"a is not its name", []string{"x. 1 IN A 192.0.2.1"}, "x.", false},
		{"a leading zeros are no address", []string{"x. 1 IN A 192.0.2.1"}, "192.000.002.001", false},
		{"a zone is no ipv4 address", []string{"x. 1 IN A 192.0.2.1"}, "192.0.2.1%eth0", false},
		{"a as ipv4-mapped", []string{"x. 1 IN A 192.0.2.1"}, "::ffff:192.0.2.1", true},
		{"a as ipv4-mapped in hex", []string{"x. 1 IN A 192.0.2.1"}, "::FFFF:c000:201", true},
		{"a as ipv4-mapped spelled long", []string{"x. 1 IN A 192.0.2.1"}, "0:0:0:0:0:ffff:192.0.2.1", true},
		{"a as ipv4-mapped with a zone", []string{"x. 1 IN A 192.0.2.1"}, "::ffff:192.0.2.1%eth0", true},
		{"a as ipv4-compatible is not it", []string{"x. 1 IN A 192.0.2.1"}, "::192.0.2.1", false},
		{"a other mapped", []string{"x. 1 IN A 192.0.2.1"}, "::ffff:192.0.2.2", false},
		{"aaaa", []string{"x. 1 IN AAAA 2001:db8::1"}, "2001:db8::1", true},
		{"aaaa spelled long", []string{"x. 1 IN AAAA 2001:db8::1"}, "2001:DB8:0:0:0:0:0:1", true},
		{"aaaa leading zeros", []string{"x. 1 IN AAAA 2001:db8::1"}, "2001:0db8::0001", true},
		{"aaaa with a zone is not it", []string{"x. 1 IN AAAA 2001:db8::1"}, "2001:db8::1%eth0", false},
		{"aaaa link-local with a zone is not it", []string{"x. 1 IN AAAA fe80::1"}, "fe80::1%1", false},
		{"aaaa link-local without zone", []string{"x. 1 IN AAAA fe80::1"}, "FE80::1", true},
		{"aaaa mapped", []string{"x. 1 IN AAAA ::ffff:192.0.2.1"}, "::ffff:192.0.2.1", true},
		{"aaaa mapped in hex", []string{"x. 1 IN AAAA ::ffff:192.0.2.1"}, "::ffff:C000:0201", true},
		{"aaaa mapped is not its ipv4", []string{"x. 1 IN AAAA ::ffff:192.0.2.1"}, "192.0.2.1", false},
		{"aaaa is not a text", []string{"x. 1 IN AAAA 2001:db8::1"}, "2001:db8::1 x", false},
		{"second record", []string{"x. 1 IN A 192.0.2.1", "x. 1 IN A 192.0.2.2"}, "192.0.2.2", true},
		{"cname no dot", []string{"x. 1 IN CNAME Target.Example."}, "target.example", true},
		{"cname mixed case with dot", []string{"x. 1 IN CNAME target.example."}, "tArGeT.ExAmPlE.", true},
		{"cname prefix is not it", []string{"x. 1 IN CNAME target.example."}, "target", false},
		{"cname escaped dot", []string{`x. 1 IN CNAME a\.b.example.`}, `a\.b.example`, true},
		{"cname escaped dot is not a label", []string{`x. 1 IN CNAME a\.b.example.`}, "a.b.example", false},
		{"cname escaped octet", []string{`x. 1 IN CNAME \195\164.example.`}, `\195\164.example`, true},
		{"cname escaped octet is not its utf-8", []string{`x. 1 IN CNAME \195\164.example.`}, "ä.example", false},
		{"cname to the root", []string{"x. 1 IN CNAME ."}, ".", true},
		{"txt one string", []string{`x. 1 IN TXT "a b" "c"`}, "a b", true},
		{"txt second string", []string{`x. 1 IN TXT "v=spf1" "include:a" "-all"`}, "include:a", true},
		{"txt joined", []string{`x. 1 IN TXT "v=spf1" "include:a" "-all"`}, "v=spf1include:a-all", true},
		{"txt joined with spaces is not it", []string{`x. 1 IN TXT "v=spf1" "include:a" "-all"`}, "v=spf1 include:a -all", false},
		{"txt presentation", []string{`x. 1 IN TXT "a b" "c"`}, `"a b" "c"`, true},
		{"txt presentation without case", []string{`x. 1 IN TXT "Key=V"`}, `"key=v"`, true},
		{"txt string with case", []string{`x. 1 IN TXT "Key=V"`}, "key=v", false},
		{"txt part of a string", []string{`x. 1 IN TXT "second string"`}, "second", false},
		{"txt one string is not joined", []string{`x. 1 IN TXT "ab"`, `x. 1 IN TXT "a" "b"`}, "ab", true},
		{"txt quote escaped", []string{`x. 1 IN TXT "a\"b"`}, `a\"b`, true},
		{"txt quote as sent", []string{`x. 1 IN TXT "a\"b"`}, `a"b`, false},
		{"txt backslash escaped", []string{`x. 1 IN TXT "c\\d"`}, `c\\d`, true},
		{"txt backslash as sent", []string{`x. 1 IN TXT "c\\d"`}, `c\d`, false},
		{"txt octets escaped", []string{`x. 1 IN TXT "\255\000" "z"`}, `\255\000`, true},
		{"txt octets joined", []string{`x. 1 IN TXT "\255\000" "z"`}, `\255\000z`, true},
		{"txt octets as sent", []string{`x. 1 IN TXT "\255\000" "z"`}, "\xff\x00", false},
		{"txt empty strings", []string{`x. 1 IN TXT "" ""`}, `"" ""`, true},
		{"spf string", []string{`x. 1 IN SPF "v=spf1 -all"`}, "v=spf1 -all", true},
		{"spf joined", []string{`x. 1 IN SPF "v=spf1 " "-all"`}, "v=spf1 -all", true},
		{"ninfo is not a txt", []string{`x. 1 IN NINFO "a" "b"`}, "a", false},
		{"ninfo presentation", []string{`x. 1 IN NINFO "a" "b"`}, `"A" "B"`, true},
		{"mx", []string{"x. 1 IN MX 10 mx.example."}, "10 mx.example", true},
		{"mx mixed case", []string{"x. 1 IN MX 10 MaIl.ExAmPlE."}, "10 mail.example.", true},
		{"mx spaced", []string{"x. 1 IN MX 10 mx.example."}, " 10 \t mx.example ", true},
		{"mx wrong preference", []string{"x. 1 IN MX 10 mx.example."}, "20 mx.example", false},
		{"mx preference with a zero", []string{"x. 1 IN MX 10 mx.example."}, "010 mx.example", false},
		{"mx name alone", []string{"x. 1 IN MX 10 mx.example."}, "mx.example", false},
		{"srv", []string{"x. 1 IN SRV 1 2 3 T.x."}, "1 2 3 t.x", true},
		{"srv fields missing", []string{"x. 1 IN SRV 1 2 3 t.x."}, "1 2 3", false},
		{"srv wrong port", []string{"x. 1 IN SRV 1 2 3 t.x."}, "1 2 4 t.x.", false},
		{"caa", []string{`x. 1 IN CAA 0 issue "ca.example.net"`}, `0 issue "ca.example.net"`, true},
		{"caa without case", []string{`x. 1 IN CAA 0 issue "ca.example.net"`}, `0 ISSUE "CA.Example.NET"`, true},
		{"caa unquoted", []string{`x. 1 IN CAA 0 issue "ca.example.net"`}, "0 issue ca.example.net", false},
		{"caa value with spaces", []string{`x. 1 IN CAA 0 issue "ca.example.net; account=1"`}, `0 issue "ca.example.net;   account=1"`, true},
		{"soa", []string{"x. 1 IN SOA ns.x. h.x. 7 3600 600 86400 300"}, "ns.x h.x 7 3600 600 86400 300", true},
		{"soa mixed case with dots", []string{"x. 1 IN SOA Ns.X. h.x. 7 3600 600 86400 300"}, "NS.x. H.X 7 3600 600 86400 300", true},
		{"soa wrong serial", []string{"x. 1 IN SOA ns.x. h.x. 7 3600 600 86400 300"}, "ns.x h.x 8 3600 600 86400 300", false},
		{"soa serial alone", []string{"x. 1 IN SOA ns.x. h.x. 7 3600 600 86400 300"}, "7", false},
		{"unknown type by its data", []string{`x. 1 IN TYPE1234 \# 2 abcd`}, `\# 2 abcd`, false},
		{"unknown type by its line", []string{`x. 1 IN TYPE1234 \# 2 abcd`}, "x. 1 CLASS1 TYPE1234 \\# 2 ABCD", true},
		{"class chaos", []string{`x. 1 CH A 192.0.2.1`}, "192.0.2.1", true},
		{"ds digest without case", []string{"x. 1 IN DS 12345 13 2 49FD46E6"}, "12345 13 2 49fd46e6", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rrs []mdns.RR
			for _, s := range tt.rrs {
				rrs = append(rrs, mustRR(t, s))
			}
			raw := answerOf(t, rrs...)
			found, why := expectAgrees(raw, tt.want)
			if why != "" {
				t.Errorf("%q in %q: %s", tt.want, tt.rrs, why)
			}
			if found != tt.ok {
				t.Errorf("%q in %q: found %v, want %v", tt.want, tt.rrs, found, tt.ok)
			}
		})
	}
}

// TestExpectAsMiekg: for records of every type and the replies real
// servers sent, every spelling an operator might give of each record's
// data (expectations) finds the same record as the reference, or none.
func TestExpectAsMiekg(t *testing.T) {
	var n, found int
	try := func(what string, raw []byte, wants []string) {
		t.Helper()
		for _, want := range wants {
			n++
			ok, why := expectAgrees(raw, want)
			if why != "" {
				t.Errorf("%s, --expect %q: %s\n%x", what, want, why, raw)
			}
			if ok {
				found++
			}
		}
	}
	a := mustRR(t, "x. 1 IN A 192.0.2.1")
	for _, rr := range sampleRRs(t) {
		wants := expectations(rr)
		try(rr.String(), answerOf(t, rr), wants)
		// Behind another record, and before one: the first that matches.
		try(rr.String()+" after an A", answerOf(t, a, rr), wants)
		try(rr.String()+" before itself", answerOf(t, rr, a, rr), wants)
	}
	for _, c := range captured(t) {
		m := new(mdns.Msg)
		if err := m.Unpack(c.raw); err != nil {
			t.Fatalf("%s: %v", c.label, err)
		}
		var wants []string
		for _, sec := range [][]mdns.RR{m.Answer, m.Ns, m.Extra} {
			for _, rr := range sec {
				wants = append(wants, expectations(rr)...)
			}
		}
		try(c.label, c.raw, wants)
	}
	if found == 0 || found == n {
		t.Errorf("%d of %d found: the spellings test nothing", found, n)
	}
	t.Logf("%d expectations, %d found", n, found)
}

// expectations are --expect values for rr's data: as printed, in other
// cases, with and without final dots, with fields missing, and for
// addresses and strings the spellings each kind has.
func expectations(rr mdns.RR) []string {
	data := strings.TrimPrefix(rr.String(), rr.Header().String())
	out := []string{data, strings.ToUpper(data), strings.ToLower(data), mixedCase(data), " " + data + "\t",
		dots(data, false), dots(data, true), rr.String()}
	if f := strings.Fields(data); len(f) > 1 {
		out = append(out, f[0], strings.Join(f[1:], " "), strings.Join(f[:len(f)-1], " "), f[len(f)-1])
	}
	switch r := rr.(type) {
	case *mdns.A:
		out = append(out, addrSpellings(r.A)...)
	case *mdns.AAAA:
		out = append(out, addrSpellings(r.AAAA)...)
	case *mdns.TXT:
		out = append(out, txtSpellings(r.Txt)...)
	case *mdns.SPF:
		out = append(out, txtSpellings(r.Txt)...)
	}
	return out
}

// mixedCase turns every other letter to upper case, the rest to lower.
func mixedCase(s string) string {
	b := []byte(strings.ToLower(s))
	for i := 0; i < len(b); i += 2 {
		if 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// dots drops the final dot of every field of s, or adds one.
func dots(s string, add bool) string {
	f := strings.Fields(s)
	for i := range f {
		if add {
			f[i] += "."
		} else if len(f[i]) > 1 {
			f[i] = strings.TrimSuffix(f[i], ".")
		}
	}
	return strings.Join(f, " ")
}

// addrSpellings are an address written in ways that are it and ways
// that are not: long, mapped, with a zone, the next one.
func addrSpellings(ip net.IP) []string {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return nil
	}
	mapped := netip.AddrFrom16(a.As16())
	out := []string{a.String(), a.StringExpanded(), strings.ToUpper(a.StringExpanded()), a.Unmap().String(),
		mapped.String(), mapped.StringExpanded(), mapped.WithZone("eth0").String(), a.Next().String(), a.Prev().String()}
	if a.Is6() {
		out = append(out, a.WithZone("eth0").String(), a.WithZone("1").String(), "["+a.String()+"]")
	}
	if a.Is4() {
		out = append(out, "::"+a.String(), a.String()+"%eth0", a.String()+"/32")
	}
	return out
}

// txtSpellings are a TXT record's strings one by one (escaped as miekg
// prints them, and as sent), joined, joined with spaces, in upper case.
func txtSpellings(txt []string) []string {
	out := []string{strings.Join(txt, ""), strings.Join(txt, " ")}
	for _, s := range txt {
		out = append(out, s, unescape(s), strings.ToUpper(s), `"`+s+`"`)
	}
	return out
}

// unescape undoes a character-string's \X and \DDD escapes.
func unescape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			b = append(b, (s[i+1]-'0')*100+(s[i+2]-'0')*10+(s[i+3]-'0'))
			i += 3
			continue
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

// FuzzExpectAsMiekg: whatever the reply and the value, findExpected finds
// the same record as the reference, or none. mode picks a spelling of an
// answer's data (expectations) instead of want, so that mutated replies
// still reach the comparisons that match.
func FuzzExpectAsMiekg(f *testing.F) {
	a := mustRR(f, "x. 1 IN A 192.0.2.1")
	for i, rr := range sampleRRs(f) {
		wants := expectations(rr)
		f.Add(answerOf(f, rr), uint8(0), wants[i%len(wants)])
		f.Add(answerOf(f, a, rr), uint8(1|i<<1), "")
	}
	for _, c := range captured(f)[:40] {
		f.Add(c.raw, uint8(1), "")
	}
	f.Fuzz(func(t *testing.T, raw []byte, mode uint8, want string) {
		if mode&1 != 0 {
			m := new(mdns.Msg)
			if m.Unpack(raw) != nil || len(m.Answer) == 0 {
				return
			}
			wants := expectations(m.Answer[int(mode>>1)%len(m.Answer)])
			want = wants[len(want)%len(wants)]
		}
		if _, why := expectAgrees(raw, want); why != "" {
			t.Fatalf("--expect %q: %s\n%x", want, why, raw)
		}
	})
}
