package dns

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/dns/dnsrr"
)

func mustRR(t testing.TB, s string) mdns.RR {
	rr, err := mdns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestMismatch(t *testing.T) {
	o := &Options{Name: "www.example.", Type: "A", Rcodes: "NOERROR"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	q := new(mdns.Msg)
	q.SetQuestion("www.example.", mdns.TypeA)
	q.Id = 4242
	reply := func(edit func(m *mdns.Msg)) *message {
		m := new(mdns.Msg)
		m.SetReply(q)
		edit(m)
		raw, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		msg, err := unpack(raw)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	tests := []struct {
		name string
		m    *message
		want string // "" for a match
	}{
		{"ours", reply(func(*mdns.Msg) {}), ""},
		{"0x20 case", reply(func(m *mdns.Msg) { m.Question[0].Name = "WwW.ExAmple." }), ""},
		{"wrong id", reply(func(m *mdns.Msg) { m.Id++ }), "ID 4243, not 4242"},
		{"a query", reply(func(m *mdns.Msg) { m.Response = false }), "a query, not a reply"},
		{"opcode", reply(func(m *mdns.Msg) { m.Opcode = mdns.OpcodeNotify }), "opcode 4"},
		{"other name", reply(func(m *mdns.Msg) { m.Question[0].Name = "mail.example." }), "question mail.example. A, not ours"},
		{"longer name", reply(func(m *mdns.Msg) { m.Question[0].Name = "www.example.com." }), "question www.example.com. A, not ours"},
		{"other type", reply(func(m *mdns.Msg) { m.Question[0].Qtype = mdns.TypeAAAA }), "question www.example. AAAA"},
		{"other class", reply(func(m *mdns.Msg) { m.Question[0].Qclass = mdns.ClassCHAOS }), "not ours"},
		{"two questions", reply(func(m *mdns.Msg) { m.Question = append(m.Question, m.Question[0]) }), "not ours"},
		{"no question, noerror", reply(func(m *mdns.Msg) { m.Question = nil }), "no question section"},
		{"no question, formerr", reply(func(m *mdns.Msg) { m.Question = nil; m.Rcode = mdns.RcodeFormatError }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &run{o: o}
			got := p.mismatch(tt.m, 4242)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("mismatch = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestEscapedName: a name typed with escapes is compared with the echoed
// question in wire form. Compared in presentation form, "a\065b" never
// matched the reply's "aAb.": every reply was passed over, and the check
// timed out.
func TestEscapedName(t *testing.T) {
	o := Options{Name: `a\065b.example`, Type: "A", Rcodes: "NOERROR"}
	r := exchangeWith(t, &o, packed(t, "aAb.example.", 0, "aAb.example. 1 IN A 192.0.2.1"))
	if r.State != exitcode.OK {
		t.Errorf("got %v %q, want OK", r.State, r.Summary)
	}
}

// full is what lbcheck gives the options (internal/checks), but TLS.
var full = Parts{Records: dnsrr.Records{}}

// exchangeWith runs the exchange over a stream whose peer answers the
// query with the given bytes, the query's ID written over their first two,
// with every part, as lbcheck runs it.
func exchangeWith(t testing.TB, o *Options, answer []byte) probe.Result {
	o.parts = full
	return exchangeParts(t, o, answer)
}

// exchangeParts is exchangeWith with the parts o has.
func exchangeParts(t testing.TB, o *Options, answer []byte) probe.Result {
	r, _, _ := exchangeRecorded(t, o, answer)
	return r
}

// exchangeRecorded is exchangeParts, and also returns the query sent and
// the reply as the peer sent it, with the query's ID.
func exchangeRecorded(t testing.TB, o *Options, answer []byte) (r probe.Result, query, sent []byte) {
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	defer client.Close()
	done := make(chan [2][]byte, 1)
	go func() {
		defer server.Close()
		var q, a []byte
		defer func() { done <- [2][]byte{q, a} }()
		var n [2]byte
		if _, err := io.ReadFull(server, n[:]); err != nil {
			return
		}
		q = make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(server, q); err != nil {
			return
		}
		a = append([]byte(nil), answer...)
		if len(a) >= 2 {
			copy(a, q[:2])
		}
		// Then close: a reply passed over ends in EOF, not the deadline.
		server.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(a))), a...))
	}()
	client.SetDeadline(time.Now().Add(time.Second))
	p := &run{t: probe.Target{Host: "192.0.2.1", Addr: netip.MustParseAddrPort("192.0.2.1:53"), Log: probe.NewLog(2)}, o: o, start: time.Now()}
	r, m := p.exchange(client, "192.0.2.1:53/tcp", true)
	if m != nil {
		r = p.judge(m, "tcp")
	}
	client.Close()
	qa := <-done
	return r, qa[0], qa[1]
}

func packed(t testing.TB, name string, rcode int, rrs ...string) []byte {
	q := new(mdns.Msg)
	q.SetQuestion(name, mdns.TypeA)
	m := new(mdns.Msg)
	m.SetRcode(q, rcode)
	for _, s := range rrs {
		m.Answer = append(m.Answer, mustRR(t, s))
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExchange(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		answer  []byte
		state   exitcode.State
		summary string
	}{
		{"ok", Options{}, packed(t, "www.example.", 0, "www.example. 1 IN A 192.0.2.1"), exitcode.OK, "NOERROR, 1 answer (A 192.0.2.1) from 192.0.2.1:53/tcp in "},
		{"three answers shown as two", Options{}, packed(t, "www.example.", 0, "www.example. 1 IN A 192.0.2.1", "www.example. 1 IN A 192.0.2.2", "www.example. 1 IN A 192.0.2.3"), exitcode.OK, "3 answers (A 192.0.2.1, A 192.0.2.2, ...)"},
		{"pipe in txt cleaned", Options{}, packed(t, "www.example.", 0, `www.example. 1 IN TXT "a|b"`), exitcode.OK, `(TXT "a?b")`},
		{"nxdomain", Options{}, packed(t, "www.example.", mdns.RcodeNameError), exitcode.Critical, "NXDOMAIN from 192.0.2.1:53/tcp for www.example. A, expected NOERROR"},
		{"extended rcode named", Options{Rcodes: "NOERROR,BADCOOKIE"}, packed(t, "www.example.", 0), exitcode.OK, "NOERROR, no answers"},
		{"empty message", Options{}, nil, exitcode.Critical, `not a DNS message from 192.0.2.1:53/tcp: ""`},
		{"a query is passed over", Options{}, make([]byte, 12), exitcode.Critical, "(ignored 1 reply, last: a query, not a reply): connection closed by peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Name, o.Type = "www.example.", "A"
			if o.Rcodes == "" {
				o.Rcodes = "NOERROR"
			}
			r := exchangeWith(t, &o, tt.answer)
			if r.State != tt.state || !strings.Contains(r.Summary, tt.summary) {
				t.Errorf("got %v %q, want %v containing %q", r.State, r.Summary, tt.state, tt.summary)
			}
		})
	}
}

// FuzzReply: whatever comes back (with our ID, so that parsing is reached),
// the probe returns a verdict in time, never UNKNOWN, never a summary
// that breaks the Nagios line, and OK only for a reply to our question.
func FuzzReply(f *testing.F) {
	f.Add(packed(f, "www.example.", 0, "www.example. 1 IN A 192.0.2.1"), uint8(0))
	f.Add(packed(f, "www.example.", 0, `www.example. 1 IN TXT "x" "y"`), uint8(1))
	f.Add(packed(f, "www.example.", 3), uint8(0))
	f.Add(packed(f, "other.example.", 0, "other.example. 1 IN A 192.0.2.1"), uint8(0))
	f.Add([]byte("\x00\x00\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\xc0\x0c"), uint8(1))
	// Issue 13: counts that lie, bytes after the end, signed denials.
	lie := packed(f, "www.example.", 0, "www.example. 1 IN A 192.0.2.1")
	lie[6], lie[7] = 0xff, 0xff
	f.Add(lie, uint8(0))
	f.Add(append(packed(f, "www.example.", 0, "www.example. 1 IN A 192.0.2.1"), "junk"...), uint8(0))
	f.Add(reply(f, mdns.RcodeSuccess, nil, []string{soa, sigSOA, nsec3, sigNSEC3}, nil), uint8(2))
	f.Add(reply(f, mdns.RcodeSuccess, []string{cname, sigCNAME, aWeb, sigAWeb}, nil, nil), uint8(3))
	f.Add(reply(f, mdns.RcodeSuccess, nil, []string{delegNS, ds, sigDS}, nil), uint8(2))
	f.Add(reply(f, mdns.RcodeNameError, nil, []string{soa, sigSOA, nsecWWW, sigNSEC, nsecApex, sigNSECA}, nil), uint8(6))
	f.Fuzz(func(t *testing.T, answer []byte, mode uint8) {
		o := Options{Name: "www.example.", Type: "A", Rcodes: "NOERROR"}
		if mode&4 == 4 {
			o.Rcodes = "NOERROR,NXDOMAIN"
		}
		if mode&1 == 1 {
			o.Expect = []string{"192.0.2.1", "y"}
		}
		if mode&2 == 2 {
			o.DNSSEC = true
		}
		start := time.Now()
		r := exchangeWith(t, &o, answer)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("verdict after %v", took)
		}
		if r.State != exitcode.OK && r.State != exitcode.Critical {
			t.Fatalf("state %v for %q: %s", r.State, answer, r.Summary)
		}
		if r.Summary == "" || strings.ContainsAny(r.Summary, "\n\r|") {
			t.Fatalf("summary %q unfit for the first line", r.Summary)
		}
		if r.State == exitcode.OK {
			m := new(mdns.Msg)
			if err := m.Unpack(answer); err != nil || !m.Response || len(m.Question) != 1 || !strings.EqualFold(m.Question[0].Name, "www.example.") {
				t.Fatalf("OK for %q, not a reply to our question: %s", answer, r.Summary)
			}
			if why := wholeMessage(answer, m); why != "" {
				t.Fatalf("OK for %q, %s: %s", answer, why, r.Summary)
			}
			if o.DNSSEC && !strings.Contains(m.String(), "RRSIG") {
				t.Fatalf("OK with --dnssec for %q, no RRSIG anywhere: %s", answer, r.Summary)
			}
		}
	})
}

// wholeMessage is the fuzz test's own reading of "well formed", through
// miekg/dns's record by record API: the header counts are the records
// there (with TC, at least them), and the last one ends the message.
func wholeMessage(raw []byte, m *mdns.Msg) string {
	counts := []int{len(m.Question), len(m.Answer), len(m.Ns), len(m.Extra)}
	for i, n := range counts {
		c := int(binary.BigEndian.Uint16(raw[4+2*i:]))
		if c < n || c > n && !m.Truncated {
			return fmt.Sprintf("section %d counts %d, holds %d", i, c, n)
		}
	}
	off := 12
	for range counts[0] {
		_, end, err := mdns.UnpackDomainName(raw, off)
		if err != nil || end+4 > len(raw) {
			return "question cut short"
		}
		off = end + 4
	}
	for range counts[1] + counts[2] + counts[3] {
		_, end, err := mdns.UnpackRR(raw, off)
		if err != nil || end == off {
			return "record cut short"
		}
		off = end
	}
	if off != len(raw) {
		return fmt.Sprintf("%d bytes after the last record", len(raw)-off)
	}
	return ""
}
