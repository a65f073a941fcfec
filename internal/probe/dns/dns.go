// Package dns is the probe of check_dns_answer: one query to a DNS server, over
// UDP, TCP or TLS, judged by the answer's rcode and, when asked, by its
// records.
//
// It follows keepalived's DNS_CHECK: an accepted rcode passes even with no
// answer records (a recursive resolver answers ". A" with NOERROR and
// nothing else). The query and the reply are packed and read here (wire.go,
// rdata.go), as github.com/miekg/dns v1 packs and reads them: miekg links
// crypto, whose start-up a plain check would pay on every call. --expect
// is judged here too, on the records as read (expect.go). What needs
// miekg's records (--dnssec) and TLS are parts that lbcheck gives the
// options (internal/checks); check_dns_answer, without them, hands such a
// command line to lbcheck. The exchange is our own in any case: miekg's
// client takes a reply whose question differs, and we must keep waiting
// past any reply that is not ours.
package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	cli "github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/proxyproto"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
)

// Options are check_dns_answer's own options.
type Options struct {
	Name      string
	Type      string
	TCP       bool
	TLS       bool
	Client    tlsclient.Options // --verify, --ca-file, --sni
	Rcodes    string
	Expect    []string
	NoRecurse bool
	DNSSEC    bool
	Proxy     proxyproto.Version // --proxy-protocol

	qtype  uint16
	wire   []byte // Name, packed
	rcodes []int
	parts  Parts
}

// Parts are what some options need from packages whose start-up a plain
// check should not pay on every call: TLS (--tls) and miekg/dns's records
// (--dnssec). cmd/check_dns_answer has neither, and hands a command line
// that needs one to lbcheck, which has both (internal/checks).
type Parts struct {
	TLS     tlsclient.TLS
	Records Records
}

// Records judges a reply's records with miekg/dns. The reply is one the
// probe read, and so one miekg/dns reads too (wire.go).
type Records interface {
	// Signatures judges --dnssec: whether the reply carries the
	// signatures its kind of answer needs. It returns a note for the
	// summary, or why the reply is unsigned.
	Signatures(reply []byte) (note, why string, err error)
}

// NewOptions returns the options of one command line, with the parts the
// binary has.
func NewOptions(p Parts) *Options {
	o := &Options{parts: p}
	o.Client.TLS = p.TLS
	return o
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *cli.FlagSet) {
	fs.StringVar(&o.Name, "name", ".", "query `NAME`; an authoritative-only server refuses the root, so give one of its zones")
	fs.StringVar(&o.Type, "type", "A", "query `TYPE`: A, AAAA, MX, TXT, SOA, ... any type name, or TYPEnnn")
	fs.BoolVar(&o.TCP, "tcp", false, "ask over TCP instead of UDP")
	fs.BoolVar(&o.TLS, "tls", false, "DNS over TLS (RFC 7858); the certificate is not verified unless --verify or --ca-file")
	o.Client.Flags(fs, "--tls", true)
	fs.StringVar(&o.Rcodes, "rcode", "NOERROR", "`LIST` of accepted rcodes, names or numbers: NOERROR,NXDOMAIN")
	fs.StringArrayVar(&o.Expect, "expect", nil, "an answer record's data must equal `VALUE` (address, CNAME target, TXT string, '10 mx.example.org'); repeatable")
	fs.BoolVar(&o.NoRecurse, "norecurse", false, "clear the RD bit: ask an authoritative server about its own zone")
	proxyproto.Flag(fs, &o.Proxy, "; over UDP v2 or v2-local only, a header on every datagram (unbound proxy-protocol-port)")
	fs.BoolVar(&o.DNSSEC, "dnssec", false, "set the DO bit; the reply must be signed where its kind carries signatures: answer RRsets, or a denial's SOA and NSEC/NSEC3")
}

// DefaultPort is 53, or 853 with --tls.
func (o *Options) DefaultPort() uint16 {
	if o.TLS {
		return 853
	}
	return 53
}

// Validate checks the options and prepares what the probe needs, so that
// a bad option is reported before any packet is sent.
func (o *Options) Validate() error {
	var err error
	if o.qtype, err = parseType(o.Type); err != nil {
		return err
	}
	if !isDomainName(o.Name) {
		return fmt.Errorf("--name %q: not a domain name", o.Name)
	}
	o.Name = fqdn(o.Name)
	if o.wire, err = packName(o.Name); err != nil {
		return fmt.Errorf("--name %q: %v", o.Name, err)
	}
	if o.rcodes, err = parseRcodes(o.Rcodes); err != nil {
		return err
	}
	for _, e := range o.Expect {
		if strings.TrimSpace(e) == "" {
			return errors.New("--expect: empty value")
		}
	}
	if err := o.Client.Validate(o.TLS); err != nil {
		return err
	}
	if o.Proxy == proxyproto.V1 && !o.TCP && !o.TLS {
		return errors.New("--proxy-protocol v1 has no form for UDP: use v2, or ask over --tcp")
	}
	if o.DNSSEC && o.parts.Records == nil {
		return &check.Missing{Option: "--dnssec"}
	}
	return nil
}

func parseType(s string) (uint16, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	t, ok := typeByName(u)
	if !ok {
		if n, found := strings.CutPrefix(u, "TYPE"); found {
			if v, err := strconv.ParseUint(n, 10, 16); err == nil {
				t, ok = uint16(v), true
			}
		}
	}
	if !ok {
		return 0, fmt.Errorf("--type %q: not a DNS record type (A, AAAA, MX, TXT, ..., or TYPEnnn)", s)
	}
	switch t {
	case typeOPT, typeTSIG, typeTKEY, typeAXFR, typeIXFR, typeNone:
		return 0, fmt.Errorf("--type %s: not a question a health check can ask", u)
	}
	return t, nil
}

func parseRcodes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.ToUpper(strings.TrimSpace(f))
		if rc, ok := rcodeByName(f); ok {
			out = append(out, rc)
			continue
		}
		// Extended rcodes (EDNS) go up to 4095.
		if v, err := strconv.Atoi(f); err == nil && v >= 0 && v <= 4095 {
			out = append(out, v)
			continue
		}
		return nil, fmt.Errorf("--rcode %q: %q is not an rcode (NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ... or 0-4095)", s, f)
	}
	return out, nil
}

// Probe asks t one question and judges the answer.
func Probe(ctx context.Context, t probe.Target, o *Options) probe.Result {
	t.Proxy = o.Proxy
	p := &run{t: t, o: o, log: t.Log, start: time.Now()}
	p.mark = p.start
	transport := "udp"
	switch {
	case o.TLS:
		transport = "tls"
	case o.TCP:
		transport = "tcp"
	}
	r, m := p.ask(ctx, transport)
	// The records --expect and --dnssec need may be what did not fit.
	if m != nil && m.truncated() && transport == "udp" && (len(o.Expect) > 0 || o.DNSSEC) {
		p.log.Printf(1, "answer truncated over UDP: asking again over TCP")
		transport = "tcp"
		r, m = p.ask(ctx, transport)
	}
	if m != nil {
		r = p.judge(m, transport)
		r.Facts = probe.Facts{DNSReply: true, DNSRcode: m.rcode, DNSAnswer: len(m.sections[0]), DNSAuthority: len(m.sections[1]), DNSAdditional: len(m.sections[2])}
		if o.qtype == 6 {
			r.Facts.DNSSerial, _ = soaSerial(m.sections[0])
			r.Facts.DNSSOAReply = true
		}
	}
	r.Phases = p.phases
	return r
}

// run is one probe's state.
type run struct {
	t      probe.Target
	o      *Options
	log    *probe.Log
	start  time.Time
	mark   time.Time
	phases []probe.Phase
}

func (p *run) phase(name string) time.Duration {
	now := time.Now()
	d := now.Sub(p.mark)
	p.mark = now
	p.phases = append(p.phases, probe.Phase{Name: name, Duration: d})
	return d
}

// ask sends the question over transport and returns the first reply that
// answers it, or a verdict without one.
func (p *run) ask(ctx context.Context, transport string) (probe.Result, *message) {
	where := p.t.Addr.String() + "/" + transport
	var conn net.Conn
	var err error
	if transport == "udp" {
		conn, err = p.t.DialUDP(ctx)
	} else {
		conn, err = p.t.Dial(ctx)
	}
	if err != nil {
		return probe.Fail("connect to "+where, err), nil
	}
	defer conn.Close()
	if transport != "udp" {
		p.log.Printf(1, "connected to %s from %s in %s", where, conn.LocalAddr(), probe.Millis(p.phase("connect")))
	}
	// Every read and write ends by the deadline, and at once on SIGTERM.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	if transport == "tls" {
		tc, info, err := p.o.Client.Handshake(ctx, conn, p.t, "", "dot")
		if err != nil {
			return probe.Fail("TLS handshake with "+where, err), nil
		}
		p.log.Printf(1, "TLS %s %s in %s", info.Version, info.Cipher, probe.Millis(p.phase("tls")))
		if line := info.ClientCertTrace(); line != "" {
			p.log.Printf(1, "%s", line)
		}
		conn = tc
	}
	return p.exchange(conn, where, transport != "udp")
}

// exchange sends the question on conn, whose deadline is set, and reads
// until the reply to it.
func (p *run) exchange(conn net.Conn, where string, stream bool) (probe.Result, *message) {
	id := newID()
	q := p.o.query(id)
	if p.log.Enabled(1) {
		p.log.Printf(1, "> id %d %s %s%s", id, p.o.Name, typeString(p.o.qtype), flagText(binary.BigEndian.Uint16(q[2:]), p.o.DNSSEC))
	}
	wire := q
	if stream {
		wire = append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)
	}
	if _, err := conn.Write(wire); err != nil {
		return probe.Fail("sending the query to "+where, err), nil
	}

	// Read until a reply matches: anything else (a late answer to another
	// query, a spoof, a stray datagram) is noted and passed over.
	var ignored int
	var lastWhy string
	buf := make([]byte, 65535)
	for {
		raw, err := readMsg(conn, buf, stream)
		if err != nil {
			what := "waiting for the answer from " + where
			if ignored > 0 {
				what += fmt.Sprintf(" (ignored %d %s, last: %s)", ignored, plural(ignored, "reply", "replies"), lastWhy)
			}
			return probe.Fail(what, err), nil
		}
		m, err := unpack(raw)
		if err != nil {
			if stream {
				// A stream has no next message to hope for.
				return probe.Critical("not a DNS message from %s: %s", where, probe.Quote(raw, 32)), nil
			}
			ignored, lastWhy = ignored+1, "not a DNS message"
			p.log.Printf(1, "< ignored %d bytes: not a DNS message (%s)", len(raw), probe.Clean(err.Error(), 80))
			continue
		}
		// Counts that lie and bytes after the last record pass unpack, as
		// they pass miekg/dns: a reply of ours must be whole to be judged.
		if m.id == id && m.response() {
			if why := m.malformed(); why != "" {
				p.log.Printf(1, "< malformed reply: %s", why)
				return probe.Critical("malformed reply from %s: %s", where, why), nil
			}
		}
		if why := p.mismatch(m, id); why != "" {
			ignored, lastWhy = ignored+1, why
			p.log.Printf(1, "< ignored a reply: %s", why)
			continue
		}
		p.phase("answer")
		if p.log.Enabled(1) {
			p.log.Printf(1, "< id %d %s%s, %d answer, %d authority, %d additional", m.id, rcodeName(m.rcode), m.flags(),
				len(m.sections[0]), len(m.sections[1]), len(m.sections[2]))
		}
		if p.log.Enabled(2) {
			for _, rr := range m.answer() {
				s, _ := rr.text()
				p.log.Printf(2, "< %s", s)
			}
		}
		return probe.Result{}, m
	}
}

// readMsg reads one DNS message: a datagram, or a length-prefixed message
// of a stream. The length prefix bounds it to 64 KiB either way.
func readMsg(conn net.Conn, buf []byte, stream bool) ([]byte, error) {
	if !stream {
		n, err := conn.Read(buf)
		return buf[:n], err
	}
	if _, err := io.ReadFull(conn, buf[:2]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(buf[:2]))
	if _, err := io.ReadFull(conn, buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf[:n], nil
}

// mismatch says why m is not the reply to our query with this ID, or ""
// when it is.
func (p *run) mismatch(m *message, id uint16) string {
	switch {
	case m.id != id:
		return fmt.Sprintf("ID %d, not %d", m.id, id)
	case !m.response():
		return "a query, not a reply"
	case m.opcode() != 0:
		return "opcode " + strconv.Itoa(m.opcode())
	}
	if len(m.question) == 0 {
		// Some servers leave the question out of an error reply
		// (FORMERR, NOTIMP); an answer without it proves nothing.
		if m.rcode == 0 {
			return "no question section"
		}
		return ""
	}
	got := m.question[0]
	if len(m.question) != 1 || !sameName(got.wire, p.o.wire) || got.qtype != p.o.qtype || got.qclass != classINET {
		return fmt.Sprintf("question %s %s, not ours", probe.Clean(got.name, 60), typeString(got.qtype))
	}
	return ""
}

// sameName compares names in wire form without ASCII case: resolvers may
// randomise it (0x20).
func sameName(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// judge turns the matching reply into the verdict.
func (p *run) judge(m *message, transport string) probe.Result {
	where := p.t.Addr.String() + "/" + transport
	rcode := rcodeName(m.rcode)
	answers := describeAnswers(m.answer())
	accepted := false
	for _, rc := range p.o.rcodes {
		accepted = accepted || rc == m.rcode
	}
	if !accepted {
		return probe.Critical("%s from %s for %s %s, expected %s", rcode, where,
			probe.Clean(p.o.Name, 60), typeString(p.o.qtype), strings.ToUpper(strings.ReplaceAll(p.o.Rcodes, " ", "")))
	}
	for _, want := range p.o.Expect {
		rr := findExpected(m.answer(), want)
		if rr == nil {
			return probe.Critical("%s, %s from %s, none is %s", rcode, answers, where, probe.Quote([]byte(want), 60))
		}
		if p.log.Enabled(1) {
			s, _ := rr.text()
			p.log.Printf(1, "%s matches %s", probe.Quote([]byte(want), 60), s)
		}
	}
	if p.o.DNSSEC {
		kind, why, err := p.o.parts.Records.Signatures(m.raw)
		if err != nil {
			return probe.Critical("reply from %s unreadable: %s", where, probe.Clean(err.Error(), 80))
		}
		if why != "" {
			return probe.Critical("%s, %s from %s, unsigned: %s", rcode, answers, where, why)
		}
		answers += kind
	}
	if m.truncated() {
		answers += ", truncated"
	}
	took := time.Since(p.start)
	r := probe.OK("%s, %s from %s in %s", rcode, answers, where, probe.Millis(took))
	r.Took = took
	return r
}

// describeAnswers names the count and the first two records' type and data.
func describeAnswers(rrs []record) string {
	if len(rrs) == 0 {
		return "no answers"
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(rrs)) + " " + plural(len(rrs), "answer", "answers") + " (")
	for i := range rrs[:min(len(rrs), 2)] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(typeString(rrs[i].rrtype) + " " + probe.Clean(rrs[i].rdata(), 48))
	}
	if len(rrs) > 2 {
		b.WriteString(", ...")
	}
	b.WriteString(")")
	return b.String()
}

// flags renders the header bits as dig does, and DO.
func (m *message) flags() string {
	return flagText(m.bits, m.opt != nil && m.opt.ttl&flagDO != 0)
}

func flagText(bits uint16, do bool) string {
	var b strings.Builder
	for _, f := range [...]struct {
		bit  uint16
		name string
	}{{flagQR, "qr"}, {flagAA, "aa"}, {flagTC, "tc"}, {flagRD, "rd"}, {flagRA, "ra"}, {flagAD, "ad"}, {flagCD, "cd"}} {
		if bits&f.bit != 0 {
			b.WriteString(" " + f.name)
		}
	}
	if do {
		b.WriteString(" do")
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
