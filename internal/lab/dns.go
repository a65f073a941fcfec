package lab

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNS is the lab's DNS server, on UDP and TCP at one port, and over TLS.
// What it answers depends on the name asked (zone lab.test):
//
//	.                        NOERROR, no records (a resolver's answer)
//	www.lab.test             A 192.0.2.10, AAAA 2001:db8::10
//	alias.lab.test           CNAME www.lab.test, then its A/AAAA
//	txt.lab.test             TXT "v=lbcheck1" "second string"
//	mx.lab.test              MX 10 mail.lab.test.
//	nodata.lab.test          NOERROR, no records (only a TXT exists)
//	big.lab.test             40 A records: truncated over UDP
//	signed.lab.test          A, with an RRSIG when the DO bit is set
//	servfail.lab.test        SERVFAIL
//	refused.lab.test         REFUSED
//	spoof.lab.test           a reply with a wrong ID, one for another
//	                         question, a query, then the right answer
//	spoofonly.lab.test       the wrong replies only
//	garbage.lab.test         bytes that are no DNS message
//	badcount.lab.test        A, in a header that claims 65535 answers
//	trailing.lab.test        A, and bytes after the last record
//	silent.lab.test          nothing at all
//	anything else            NXDOMAIN
type DNS struct {
	Addr     netip.AddrPort // UDP and TCP on 127.0.0.1
	Addr6    netip.AddrPort // the same on [::1]; invalid if IPv6 is off
	TLS      netip.AddrPort // DNS over TLS on 127.0.0.1
	ClosedUD netip.AddrPort // a UDP port nothing listens on (ICMP port unreachable)
	CAFile   string         // PEM of the certificate TLS serves

	pool
}

// StartDNS starts the DNS servers. Close stops them.
func StartDNS() (_ *DNS, err error) {
	d := &DNS{}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if err = d.start("lbcheck-lab-dns-"); err != nil {
		return nil, err
	}
	cert, caFile, err := d.caCert()
	if err != nil {
		return nil, fmt.Errorf("lab DNS certificate: %w", err)
	}
	d.CAFile = caFile

	// UDP and TCP on one port: take the UDP port, then the same for TCP.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.Addr = netip.MustParseAddrPort(pc.LocalAddr().String())
	ln, err := net.Listen("tcp4", d.Addr.String())
	if err != nil {
		pc.Close()
		return nil, err
	}
	if err := d.activate(&dns.Server{PacketConn: pc}); err != nil {
		return nil, err
	}
	if err := d.activate(&dns.Server{Listener: ln}); err != nil {
		return nil, err
	}
	// IPv6 is optional: some CI containers have no ::1.
	if pc6, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		d.Addr6 = netip.MustParseAddrPort(pc6.LocalAddr().String())
		if err := d.activate(&dns.Server{PacketConn: pc6}); err != nil {
			return nil, err
		}
		if ln6, err := net.Listen("tcp6", d.Addr6.String()); err == nil {
			if err := d.activate(&dns.Server{Listener: ln6}); err != nil {
				return nil, err
			}
		}
	}
	tln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return nil, err
	}
	d.TLS = netip.MustParseAddrPort(tln.Addr().String())
	if err := d.activate(&dns.Server{Listener: tln, Net: "tcp-tls"}); err != nil {
		return nil, err
	}
	// Listen and close: the kernel answers the next datagram with ICMP
	// port unreachable. Another process could take the port meanwhile;
	// on loopback, in a test, that is unlikely enough.
	closed, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.ClosedUD = netip.MustParseAddrPort(closed.LocalAddr().String())
	closed.Close()
	return d, nil
}

// activate starts srv and returns once it listens.
func (d *DNS) activate(srv *dns.Server) error {
	started := make(chan struct{})
	failed := make(chan error, 1)
	srv.Handler = dns.HandlerFunc(d.answer)
	srv.NotifyStartedFunc = func() { close(started) }
	d.closers = append(d.closers, closeFunc(srv.Shutdown))
	go func() { failed <- srv.ActivateAndServe() }()
	select {
	case <-started:
		return nil
	case err := <-failed:
		return fmt.Errorf("lab DNS server: %w", err)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("lab DNS server did not start")
	}
}

// Close stops every server.
func (d *DNS) Close() { d.shutdown() }

// Addrs lists the servers by name, for the demo.
func (d *DNS) Addrs() []Named {
	var out []Named
	for _, n := range []Named{{"dns", d.Addr}, {"dns6", d.Addr6}, {"dot", d.TLS}} {
		if n.Addr.IsValid() {
			out = append(out, n)
		}
	}
	return out
}

const zone = "lab.test."

func (d *DNS) answer(w dns.ResponseWriter, q *dns.Msg) {
	if len(q.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	qs := q.Question[0]
	name := strings.ToLower(qs.Name)
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	m.RecursionAvailable = true
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		return r
	}
	add := func(owner string, typ uint16, data ...string) {
		for _, s := range data {
			r := rr(owner + " 300 IN " + dns.Type(typ).String() + " " + s)
			if qs.Qtype == typ || qs.Qtype == dns.TypeANY || r.Header().Rrtype == dns.TypeCNAME {
				m.Answer = append(m.Answer, r)
			}
		}
	}
	switch name {
	case ".":
	case "www." + zone:
		add(name, dns.TypeA, "192.0.2.10")
		add(name, dns.TypeAAAA, "2001:db8::10")
	case "alias." + zone:
		add(name, dns.TypeCNAME, "www."+zone)
		add("www."+zone, dns.TypeA, "192.0.2.10")
		add("www."+zone, dns.TypeAAAA, "2001:db8::10")
	case "txt." + zone:
		add(name, dns.TypeTXT, `"v=lbcheck1" "second string"`)
	case "mx." + zone:
		add(name, dns.TypeMX, "10 mail."+zone)
	case "nodata." + zone:
		add(name, dns.TypeTXT, `"only text here"`)
	case "big." + zone:
		for i := 1; i <= 40; i++ {
			add(name, dns.TypeA, fmt.Sprintf("198.51.100.%d", i))
		}
	case "signed." + zone:
		add(name, dns.TypeA, "192.0.2.20")
		if o := q.IsEdns0(); o != nil && o.Do() && qs.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, rr(name+" 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 12345 "+zone+" c2lnbmF0dXJl"))
			m.SetEdns0(1232, true)
		}
	case "servfail." + zone:
		m.Rcode = dns.RcodeServerFailure
	case "refused." + zone:
		m.Rcode = dns.RcodeRefused
	case "spoof." + zone, "spoofonly." + zone:
		d.spoof(w, q, m)
		if name == "spoofonly."+zone {
			return
		}
		time.Sleep(20 * time.Millisecond)
		add(name, dns.TypeA, "192.0.2.30")
	case "garbage." + zone:
		w.Write([]byte("\x00\x01SSH-2.0-OpenSSH_9.2\r\n"))
		return
	case "badcount." + zone, "trailing." + zone:
		// Well-formed but for what a lenient parser lets through.
		add(name, dns.TypeA, "192.0.2.40")
		b, err := m.Pack()
		if err != nil {
			panic(err)
		}
		if name == "badcount."+zone {
			b[6], b[7] = 0xff, 0xff
		} else {
			b = append(b, "trailing junk"...)
		}
		w.Write(b)
		return
	case "silent." + zone:
		// Hold a TCP connection open until the client gives up.
		select {
		case <-d.stopping:
		case <-time.After(10 * time.Second):
		}
		return
	default:
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, rr(zone+" 300 IN SOA ns."+zone+" hostmaster."+zone+" 1 3600 600 86400 300"))
	}
	// Over UDP, a reply that does not fit the client's buffer (512 bytes
	// without EDNS) is cut and marked TC, as a real server does.
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if o := q.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// spoof sends what a client must pass over: a reply with another ID, a
// reply to another question, and a query instead of a reply.
func (d *DNS) spoof(w dns.ResponseWriter, q *dns.Msg, m *dns.Msg) {
	wrongID := m.Copy()
	wrongID.Id = q.Id + 1
	wrongID.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.IPv4(203, 0, 113, 66)}}
	other := m.Copy()
	other.Question[0].Name = "other." + zone
	notReply := q.Copy()
	for _, x := range []*dns.Msg{wrongID, other, notReply} {
		w.WriteMsg(x)
	}
}
