package dns

import (
	"encoding/binary"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	cli "github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/dns/dnsrr"
)

// The verdict the probe gave when miekg/dns read every reply (up to
// commit 346d350), kept here as the reference: the probe must give the
// same verdict and summary now that it reads replies itself, in the plain
// build and in lbcheck. The code is that version's, for one reply read
// over a stream that then closes (as exchangeRecorded serves it).

func oldVerdict(o *Options, raw []byte, id uint16) probe.Result {
	const where = "192.0.2.1:53/tcp"
	q := new(mdns.Msg)
	q.SetQuestion(o.Name, o.qtype)
	q.Id = id
	q.RecursionDesired = !o.NoRecurse
	if o.DNSSEC {
		q.SetEdns0(1232, true)
	}
	m := new(mdns.Msg)
	if err := m.Unpack(raw); err != nil {
		return probe.Critical("not a DNS message from %s: %s", where, probe.Quote(raw, 32))
	}
	if m.Id == q.Id && m.Response {
		if why := oldMalformed(raw, m); why != "" {
			return probe.Critical("malformed reply from %s: %s", where, why)
		}
	}
	if why := oldMismatch(q, m); why != "" {
		return probe.Fail("waiting for the answer from "+where+" (ignored 1 reply, last: "+why+")", io.EOF)
	}
	return oldJudge(o, m, raw)
}

func oldMalformed(raw []byte, m *mdns.Msg) string {
	if len(raw) == 12 {
		// Changed since that version, in both: a bare header (a server's
		// REFUSED) is judged by its rcode, as miekg/dns unpacks it.
		return ""
	}
	for i, sec := range []struct {
		n         int
		one, many string
	}{
		{len(m.Question), "question", "questions"},
		{len(m.Answer), "answer", "answers"},
		{len(m.Ns), "authority record", "authority records"},
		{len(m.Extra), "additional record", "additional records"},
	} {
		want := int(binary.BigEndian.Uint16(raw[4+2*i:]))
		if want != sec.n && !(m.Truncated && want > sec.n) {
			return fmt.Sprintf("the header counts %d %s, %d present", want, plural(want, sec.one, sec.many), sec.n)
		}
	}
	off := 12
	for range m.Question {
		if off = skipName(raw, off); off < 0 || off+4 > len(raw) {
			return "the question is cut short"
		}
		off += 4
	}
	for range len(m.Answer) + len(m.Ns) + len(m.Extra) {
		if off = skipName(raw, off); off < 0 || off+10 > len(raw) {
			return "a record is cut short"
		}
		off += 10 + int(binary.BigEndian.Uint16(raw[off+8:]))
	}
	switch n := len(raw) - off; {
	case n < 0:
		return "a record is cut short"
	case n > 0:
		return fmt.Sprintf("%d %s after the last record", n, plural(n, "byte", "bytes"))
	}
	return ""
}

func oldMismatch(q, m *mdns.Msg) string {
	switch {
	case m.Id != q.Id:
		return fmt.Sprintf("ID %d, not %d", m.Id, q.Id)
	case !m.Response:
		return "a query, not a reply"
	case m.Opcode != q.Opcode:
		return fmt.Sprintf("opcode %d", m.Opcode)
	}
	want := q.Question[0]
	if len(m.Question) == 0 {
		if m.Rcode == mdns.RcodeSuccess {
			return "no question section"
		}
		return ""
	}
	got := m.Question[0]
	if len(m.Question) != 1 || !strings.EqualFold(got.Name, want.Name) || got.Qtype != want.Qtype || got.Qclass != want.Qclass {
		return fmt.Sprintf("question %s %s, not ours", probe.Clean(got.Name, 60), mdns.Type(got.Qtype))
	}
	return ""
}

func oldJudge(o *Options, m *mdns.Msg, raw []byte) probe.Result {
	const where = "192.0.2.1:53/tcp"
	rcode, ok := mdns.RcodeToString[m.Rcode]
	if !ok {
		rcode = fmt.Sprintf("RCODE%d", m.Rcode)
	}
	answers := "no answers"
	if len(m.Answer) > 0 {
		var shown []string
		for _, rr := range m.Answer[:min(len(m.Answer), 2)] {
			shown = append(shown, mdns.Type(rr.Header().Rrtype).String()+" "+probe.Clean(strings.TrimPrefix(rr.String(), rr.Header().String()), 48))
		}
		more := ""
		if len(m.Answer) > 2 {
			more = ", ..."
		}
		answers = fmt.Sprintf("%d %s (%s%s)", len(m.Answer), plural(len(m.Answer), "answer", "answers"), strings.Join(shown, ", "), more)
	}
	accepted := false
	for _, rc := range o.rcodes {
		accepted = accepted || rc == m.Rcode
	}
	if !accepted {
		return probe.Critical("%s from %s for %s %s, expected %s", rcode, where,
			probe.Clean(o.Name, 60), mdns.Type(o.qtype), strings.ToUpper(strings.ReplaceAll(o.Rcodes, " ", "")))
	}
	for _, want := range o.Expect {
		if miekgFindExpected(m.Answer, want) == nil {
			return probe.Critical("%s, %s from %s, none is %s", rcode, answers, where, probe.Quote([]byte(want), 60))
		}
	}
	var rr dnsrr.Records
	if o.DNSSEC {
		kind, why, _ := rr.Signatures(raw)
		if why != "" {
			return probe.Critical("%s, %s from %s, unsigned: %s", rcode, answers, where, why)
		}
		answers += kind
	}
	if m.Truncated {
		answers += ", truncated"
	}
	return probe.OK("%s, %s from %s in 0 ms", rcode, answers, where)
}

var elapsed = regexp.MustCompile(` in [0-9.]+ ms$`)

// verdictsAgree runs answer through the probe with the options args, as
// check_dns_answer (without parts) when it can (all but --dnssec), and as
// lbcheck, and compares both with the reference.
func verdictsAgree(t *testing.T, args []string, answer []byte) {
	t.Helper()
	parse := func(parts Parts) *Options {
		t.Helper()
		o := NewOptions(parts)
		fs := cli.NewFlagSet("check_dns_answer")
		o.Flags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return o
	}
	for _, build := range []struct {
		name  string
		parts Parts
	}{{"lbcheck", full}, {"check_dns_answer", Parts{}}} {
		o := parse(build.parts)
		if build.parts.Records == nil && o.DNSSEC {
			continue // lbcheck's alone
		}
		r, query, sent := exchangeRecorded(t, o, answer)
		if len(query) < 2 {
			t.Fatalf("%q: no query sent", args)
		}
		want := oldVerdict(o, sent, binary.BigEndian.Uint16(query))
		got := probe.Result{State: r.State, Summary: elapsed.ReplaceAllString(r.Summary, " in 0 ms")}
		if got.State != want.State || got.Summary != want.Summary {
			t.Errorf("%s %q, reply %x:\n ours      %v %s\n reference %v %s", build.name, args, sent, got.State, got.Summary, want.State, want.Summary)
		}
	}
}

// TestVerdictsAsMiekg: the replies unbound, BIND and Knot sent (captured
// in testdata/replies.txt), records of every type, and broken messages,
// with plain options and with --expect and --dnssec: the same verdict and
// summary as the reference, in both builds.
func TestVerdictsAsMiekg(t *testing.T) {
	var n int
	run := func(args []string, answer []byte) {
		n++
		verdictsAgree(t, args, answer)
	}
	for _, c := range captured(t) {
		m := new(mdns.Msg)
		if err := m.Unpack(c.raw); err != nil {
			t.Fatalf("%s: %v", c.label, err)
		}
		run(c.args, c.raw)
		run(append(c.args, "--rcode", "NOERROR,NXDOMAIN"), c.raw)
		for _, rr := range m.Answer[:min(2, len(m.Answer))] {
			for _, want := range expectations(rr) {
				if strings.TrimSpace(want) != "" {
					run(append(c.args, "--expect", want), c.raw)
				}
			}
		}
		run(append(c.args, "--expect", "192.0.2.99"), c.raw)
		run(append(c.args, "--dnssec", "--rcode", "NOERROR,NXDOMAIN"), c.raw)
	}
	q := new(mdns.Msg)
	q.SetQuestion("x.", mdns.TypeA)
	var replies [][]byte
	for _, rr := range sampleRRs(t) {
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Answer = []mdns.RR{rr, rr}
		replies = append(replies, packMsg(t, m, true))
		m.Answer = []mdns.RR{rr, mustRR(t, "x. 1 IN A 192.0.2.1"), rr}
		m.Truncated = true
		replies = append(replies, packMsg(t, m, false))
	}
	// --expect in every spelling of each record's data, alone and with
	// another value that is not there.
	for _, rr := range sampleRRs(t) {
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Answer = []mdns.RR{mustRR(t, "x. 1 IN A 192.0.2.1"), rr}
		raw := packMsg(t, m, true)
		for _, want := range expectations(rr) {
			if strings.TrimSpace(want) == "" {
				continue
			}
			run([]string{"--name", "x", "--expect", want}, raw)
			run([]string{"--name", "x", "--expect", "192.0.2.1", "--expect", want, "--expect", "192.0.2.99"}, raw)
		}
	}
	replies = append(replies, generated()...)
	for i, raw := range replies {
		for _, args := range [][]string{
			{"--name", "x"},
			{"--name", "X.", "--rcode", "0,1,2,3,4,5,BADSIG,4095", "--norecurse"},
			{"--name", "x", "--expect", "192.0.2.1"},
			{"--name", "x", "--dnssec"},
		} {
			run(args, raw)
			// Cut short and grown: what the reference refuses or calls
			// malformed.
			run(args, raw[:len(raw)*(i%7+1)/8])
			run(args, append(append([]byte(nil), raw...), byte(i)))
		}
	}
	t.Logf("%d replies judged", n)
}

// FuzzVerdictsAsMiekg: whatever the reply, the same verdict and summary
// as the reference, in both builds.
func FuzzVerdictsAsMiekg(f *testing.F) {
	for _, c := range captured(f)[:40] {
		f.Add(c.raw, uint8(0), "")
	}
	for _, raw := range generated() {
		f.Add(raw, uint8(1), "")
	}
	// --expect given (mode 2) and taken from the reply (mode 8).
	q := new(mdns.Msg)
	q.SetQuestion("x.", mdns.TypeA)
	for i, rr := range sampleRRs(f) {
		m := new(mdns.Msg)
		m.SetReply(q)
		m.Answer = []mdns.RR{rr}
		wants := expectations(rr)
		f.Add(packMsg(f, m, true), uint8(8|i<<4), wants[i%len(wants)])
		f.Add(packMsg(f, m, false), uint8(2), wants[(i+3)%len(wants)])
	}
	f.Fuzz(func(t *testing.T, answer []byte, mode uint8, want string) {
		args := []string{"--name", "x"}
		if len(answer) > 12 {
			// The name of the question, if there is one: that of the
			// replies captured.
			if m, err := unpack(answer); err == nil && len(m.question) > 0 && m.question[0].qtype != 0 {
				args = []string{"--name", m.question[0].name, "--type", fmt.Sprintf("TYPE%d", m.question[0].qtype)}
			}
		}
		if mode&1 != 0 {
			args = append(args, "--rcode", "NOERROR,NXDOMAIN,SERVFAIL")
		}
		if mode&2 != 0 {
			if strings.TrimSpace(want) == "" {
				want = "192.0.2.1"
			}
			args = append(args, "--expect", want)
		}
		if mode&8 != 0 {
			// A spelling of an answer's data, chosen by the rest of
			// mode and want's length: a mutated reply still reaches
			// the comparisons that match.
			if m := new(mdns.Msg); m.Unpack(answer) == nil && len(m.Answer) > 0 {
				wants := expectations(m.Answer[int(mode>>4)%len(m.Answer)])
				if w := wants[len(want)%len(wants)]; strings.TrimSpace(w) != "" {
					args = append(args, "--expect", w)
				}
			}
		}
		if mode&4 != 0 {
			args = append(args, "--dnssec")
		}
		o := NewOptions(full)
		fs := cli.NewFlagSet("check_dns_answer")
		o.Flags(fs)
		if fs.Parse(args) != nil || o.Validate() != nil {
			return // a question no check asks (--type OPT)
		}
		verdictsAgree(t, args, answer)
	})
}
