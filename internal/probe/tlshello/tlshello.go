// Package tlshello is the probe of check_ssl_hello: a TLS ClientHello, the
// server's answer, then a fatal alert instead of the rest of the handshake.
//
// It proves that a TLS endpoint of any protocol (https, smtps, imaps, a TLS
// accelerator, a service that demands client certificates) answers a
// ClientHello, at less cost to the server than a full handshake and
// without anything reaching the application behind it.
//
// crypto/tls does the handshake over a gate: a net.Conn that reads the
// server's records as they pass (flight) and keeps crypto/tls from going
// further than needed. Under TLS <= 1.2 the whole server flight through
// ServerHelloDone is in the clear; when crypto/tls then writes its second
// flight, the gate sends a fatal handshake_failure alert instead and
// stops. Under TLS 1.3 everything after the ServerHello is encrypted:
// crypto/tls decrypts it and hands the certificate to VerifyConnection,
// which then returns an error, so crypto/tls itself sends an (encrypted)
// alert: a plaintext one would make servers log "bad record MAC".
package tlshello

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
	"github.com/lbcheck/lbcheck/internal/threshold"
)

// Options are check_ssl_hello's own options.
type Options struct {
	CN       string
	SNI      string
	StartTLS string
	CertDays string

	daysWarn, daysCrit float64 // -1 when not given
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *flags.FlagSet) {
	fs.StringVar(&o.CN, "cn", "", "the certificate must carry `NAME` as CN or SAN (wildcards as TLS matches them)")
	fs.StringVar(&o.SNI, "sni", "", "server `NAME` sent in the ClientHello (SNI); default --cn, else HOST when it is a name")
	fs.StringVar(&o.StartTLS, "starttls", "", "run the `PROTO` upgrade dialogue first: smtp, imap, pop3, ftp or postgres")
	fs.StringVar(&o.CertDays, "cert-days", "", "certificate days left `WARN[,CRIT]`: WARNING under WARN days, CRITICAL under CRIT or when expired")
}

// DefaultPort is 443, whatever --starttls says: a STARTTLS service has no
// single usual port worth guessing.
func (o *Options) DefaultPort() uint16 { return 443 }

// Validate checks the options before anything is sent.
func (o *Options) Validate() error {
	o.daysWarn, o.daysCrit = -1, -1
	for _, n := range []struct{ flag, v string }{{"--cn", o.CN}, {"--sni", o.SNI}} {
		if n.v != "" && (len(n.v) > 253 || strings.ContainsAny(n.v, " /:\r\n\x00@[]")) {
			return fmt.Errorf("%s %q: want a host name", n.flag, n.v)
		}
	}
	switch o.StartTLS {
	case "", "smtp", "imap", "pop3", "ftp", "postgres":
	default:
		return fmt.Errorf("--starttls %q: want smtp, imap, pop3, ftp or postgres", o.StartTLS)
	}
	if o.CertDays != "" {
		warn, crit, hasCrit := strings.Cut(o.CertDays, ",")
		w, ok := threshold.Number(warn)
		c := 0.0
		if ok && hasCrit {
			c, ok = threshold.Number(crit)
		}
		switch {
		case !ok || w < 0 || c < 0:
			return fmt.Errorf("--cert-days %q: want WARN[,CRIT] days, e.g. 30,7", o.CertDays)
		case hasCrit && c > w:
			return fmt.Errorf("--cert-days %q: CRIT must not be more than WARN", o.CertDays)
		}
		o.daysWarn = w
		if hasCrit {
			o.daysCrit = c
		}
	}
	return nil
}

// errEnough ends a TLS 1.3 handshake once the certificate is in hand.
var errEnough = errors.New("lbcheck: certificate received, ending the handshake")

// errStopped is what crypto/tls gets when it tries to send its second
// flight under TLS <= 1.2: the gate sent an alert instead.
var errStopped = errors.New("lbcheck: server flight complete, handshake_failure alert sent")

// Probe sends a ClientHello to t and judges the server's answer.
func Probe(ctx context.Context, t probe.Target, o *Options) probe.Result {
	p := &run{t: t, o: o, log: t.Log, addr: t.Addr.String()}
	r := p.do(ctx)
	r.Phases = p.phases
	if p.f.hello {
		r.Facts.TLSVersion, r.Facts.TLSCipher = p.f.version, p.f.cipher
	}
	r.Facts.CertExpiry = p.expiry
	return r
}

type run struct {
	t            probe.Target
	o            *Options
	log          *probe.Log
	addr         string
	start        time.Time
	mark         time.Time
	phases       []probe.Phase
	f            flight
	cert         *x509.Certificate
	expiry       int64 // the chain's earliest NotAfter, Unix seconds
	gotTLS13Cert bool
}

func (p *run) phase(name string) time.Duration {
	now := time.Now()
	d := now.Sub(p.mark)
	p.mark = now
	p.phases = append(p.phases, probe.Phase{Name: name, Duration: d})
	return d
}

func (p *run) do(ctx context.Context) probe.Result {
	p.start = time.Now()
	p.mark = p.start
	conn, err := p.t.Dial(ctx)
	if err != nil {
		return probe.Fail("connect to "+p.addr, err)
	}
	defer conn.Close()
	p.log.Printf(1, "connected to %s from %s in %s", p.addr, conn.LocalAddr(), probe.Millis(p.phase("connect")))
	return p.exchange(ctx, conn)
}

// exchange is everything after the connection is made.
func (p *run) exchange(ctx context.Context, conn net.Conn) probe.Result {
	// Bound every read and write by the deadline, and unblock them at once
	// if the run is cancelled (SIGTERM from keepalived or HAProxy).
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()

	if p.o.StartTLS != "" {
		if r, ok := p.startTLS(conn); !ok {
			return r
		}
		p.log.Printf(1, "%s upgrade accepted in %s", p.o.StartTLS, probe.Millis(p.phase("starttls")))
	}

	g := &gate{Conn: conn, f: &p.f, log: p.log}
	cfg := p.tlsConfig()
	sni := "no SNI"
	if cfg.ServerName != "" {
		sni = "SNI " + cfg.ServerName
	}
	p.log.Printf(1, "> ClientHello, TLS 1.0 to 1.3, %s", sni)
	err := tls.Client(g, cfg).HandshakeContext(ctx)
	p.phase("tls")
	p.log.Printf(1, "< %s (%d bytes in %d records)", p.f.flightText(), p.f.total, p.f.records)

	switch {
	case g.stopped:
		p.log.Printf(1, "> alert handshake_failure (40), in the clear")
	case p.gotTLS13Cert:
		p.log.Printf(1, "> alert bad_certificate (42), encrypted by crypto/tls")
	default:
		return p.failure(ctx, err)
	}
	return p.judge()
}

// failure explains a handshake that did not get as far as it should.
func (p *run) failure(ctx context.Context, err error) probe.Result {
	f := &p.f
	hello := "TLS hello with " + p.addr
	switch {
	case errors.Is(f.err, errServerAlert):
		return probe.Critical("%s from %s after %s", f.faultMsg, p.addr, p.sentSoFar())
	case errors.Is(f.err, errNotTLS):
		return probe.Critical("not TLS from %s: %s", p.addr, probe.Quote(f.first, 32))
	case f.err != nil:
		return probe.Critical("%s from %s after %s", f.faultMsg, p.addr, p.sentSoFar())
	case err == nil:
		// A full handshake should be impossible: say so rather than pass.
		return probe.Critical("%s: the handshake completed unexpectedly", hello)
	case ctx.Err() != nil || probe.IsTimeout(err):
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		if len(f.seen) == 0 {
			return probe.Fail("waiting for the ServerHello from "+p.addr, err)
		}
		return probe.Fail(fmt.Sprintf("%s: waiting after %s", hello, f.flightText()), err)
	}
	// A 1.3 alert is encrypted: only crypto/tls sees it.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return probe.Critical("TLS alert %s from %s after %s", strings.TrimPrefix(op.Err.Error(), "tls: "), p.addr, p.sentSoFar())
	}
	where := "before the ServerHello"
	if f.hello {
		where = "after " + f.flightText()
		if f.partial() {
			where += " and part of a record"
		}
	} else if f.partial() {
		where = "in the middle of a record"
	}
	r := probe.Fail(hello+" "+where, err)
	return r
}

// sentSoFar names what the server had answered before its alert.
func (p *run) sentSoFar() string {
	if len(p.f.seen) == 0 {
		return "our ClientHello"
	}
	return p.f.flightText()
}

// judge makes the verdict once the server's hello was received.
func (p *run) judge() probe.Result {
	f := &p.f
	var s strings.Builder
	fmt.Fprintf(&s, "%s %s from %s in %s", versionName(f.version), cipherName(f.cipher), p.addr, probe.Millis(time.Since(p.start)))
	if f.retry {
		s.WriteString(" after HelloRetryRequest")
	}
	if f.certReq {
		s.WriteString(", client certificate requested")
	}
	c := p.cert
	if c == nil {
		if p.o.CN != "" || p.o.daysWarn >= 0 {
			return probe.Critical("%s, but no certificate", s.String())
		}
		return probe.OK("%s", s.String())
	}
	days := time.Until(c.NotAfter).Hours() / 24
	fmt.Fprintf(&s, ", certificate %s expires %s", subject(c), c.NotAfter.UTC().Format(time.DateOnly))
	p.log.Printf(1, "certificate %s, issuer %s, DNS names %s, expires %s (%.1f days)", probe.Clean(c.Subject.String(), 200),
		probe.Clean(c.Issuer.String(), 200), probe.Clean(strings.Join(c.DNSNames, " "), 200), c.NotAfter.UTC().Format(time.RFC3339), days)

	r := probe.OK("%s", s.String())
	if p.o.CN != "" && !matches(c, p.o.CN) {
		r = probe.Critical("certificate %s does not match --cn %s (%s)", certNames(c), p.o.CN, s.String())
	}
	if p.o.daysWarn >= 0 {
		// "N:" is the guideline's "alert below N", the --cert-days rule;
		// without a critical figure, an expired certificate is critical.
		m := probe.Metric{Label: "days_left", Value: math.Floor(days*10) / 10,
			Warn: fmt.Sprintf("%g:", p.o.daysWarn), Crit: fmt.Sprintf("%g:", max(p.o.daysCrit, 0))}
		r.Metrics = append(r.Metrics, m)
		state, why := exitcode.OK, ""
		switch {
		case days < 0:
			state, why = exitcode.Critical, "certificate expired"
		case p.o.daysCrit >= 0 && days < p.o.daysCrit:
			state, why = exitcode.Critical, fmt.Sprintf("certificate expires in %.1f days (< %g)", days, p.o.daysCrit)
		case days < p.o.daysWarn:
			state, why = exitcode.Warning, fmt.Sprintf("certificate expires in %.1f days (< %g)", days, p.o.daysWarn)
		}
		if state != exitcode.OK {
			r.State = exitcode.Worst(r.State, state)
			r.Summary = why + ": " + r.Summary
		}
	}
	return r
}

// matches reports whether the certificate carries name as a SAN or as its
// CN, with Go's matching rules for both (x509.VerifyHostname alone
// ignores the CN, which older certificates still rely on).
func matches(c *x509.Certificate, name string) bool {
	if c.VerifyHostname(name) == nil {
		return true
	}
	cn := c.Subject.CommonName
	if cn == "" {
		return false
	}
	byCN := &x509.Certificate{DNSNames: []string{cn}}
	return byCN.VerifyHostname(name) == nil
}

func subject(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return "CN=" + probe.Clean(c.Subject.CommonName, 60)
	}
	return probe.Clean(c.Subject.String(), 60)
}

// certNames is the CN and the SANs, for a mismatch.
func certNames(c *x509.Certificate) string {
	names := subject(c)
	var san []string
	san = append(san, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		san = append(san, ip.String())
	}
	if len(san) > 0 {
		names += " (SAN " + strings.Join(san, ", ") + ")"
	}
	return probe.Clean(names, 120)
}

func versionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("version 0x%04x", v)
}

func cipherName(id uint16) string { return tls.CipherSuiteName(id) }

// tlsConfig offers TLS 1.0 to 1.3 and every cipher suite Go has, the
// insecure ones too: this is a liveness check, not a policy audit. The
// certificate is never verified against roots (VerifyConnection sees it).
func (p *run) tlsConfig() *tls.Config {
	var suites []uint16
	for _, s := range tls.CipherSuites() {
		suites = append(suites, s.ID)
	}
	for _, s := range tls.InsecureCipherSuites() {
		suites = append(suites, s.ID)
	}
	return &tls.Config{
		MinVersion:             tls.VersionTLS10,
		MaxVersion:             tls.VersionTLS13,
		CipherSuites:           suites,
		ServerName:             p.serverName(),
		InsecureSkipVerify:     true,
		SessionTicketsDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 {
				p.cert = cs.PeerCertificates[0]
				p.expiry = tlsclient.EarliestExpiry(cs.PeerCertificates)
			}
			if cs.Version >= tls.VersionTLS13 {
				p.gotTLS13Cert = true
				return errEnough
			}
			return nil
		},
	}
}

// serverName is the SNI: --sni, else --cn, else HOST when it is a name.
// crypto/tls sends none for an IP address.
func (p *run) serverName() string {
	switch {
	case p.o.SNI != "":
		return p.o.SNI
	case p.o.CN != "":
		return p.o.CN
	case p.t.IsName:
		return p.t.Host
	}
	return ""
}

// gate is the connection crypto/tls drives: reads pass through flight,
// which stops them at the first fault; the client's second flight under
// TLS <= 1.2 becomes a fatal alert.
type gate struct {
	net.Conn
	f       *flight
	log     *probe.Log
	stopped bool
}

func (g *gate) Read(b []byte) (int, error) {
	n, err := g.Conn.Read(b)
	if n > 0 {
		g.log.Printf(3, "< %d bytes", n)
		if ferr := g.f.feed(b[:n]); ferr != nil {
			return 0, ferr
		}
	}
	return n, err
}

func (g *gate) Write(b []byte) (int, error) {
	// Only the second flight (handshake records) is replaced: an alert
	// crypto/tls sends about a bad server flight goes out as it is.
	if g.f.done && !g.stopped && len(b) > 0 && b[0] == recordHandshake {
		g.stopped = true
		v := g.f.version
		alert := []byte{recordAlert, byte(v >> 8), byte(v), 0, 2, 2, 40}
		g.Conn.Write(alert)
		return 0, errStopped
	}
	if g.stopped {
		return 0, errStopped
	}
	g.log.Printf(3, "> %d bytes", len(b))
	return g.Conn.Write(b)
}
