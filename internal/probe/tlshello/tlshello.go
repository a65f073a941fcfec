// Package tlshello is the probe of check_ssl_hello: a TLS ClientHello, the
// server's first flight, then a close_notify instead of the rest of the
// handshake.
//
// It proves that a TLS endpoint of any protocol (https, smtps, imaps, a TLS
// accelerator, a service that demands client certificates) answers a
// ClientHello, at less cost to the server than a full handshake and
// without anything reaching the application behind it. The TLS itself,
// on the wire, is in the handshake sub-package; this one runs the
// STARTTLS dialogues and makes the verdict.
package tlshello

import (
	"context"
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
	"github.com/lbcheck/lbcheck/internal/probe/proxyproto"
	"github.com/lbcheck/lbcheck/internal/probe/tlshello/handshake"
	"github.com/lbcheck/lbcheck/internal/threshold"
)

// Options are check_ssl_hello's own options.
type Options struct {
	CN       string
	SNI      string
	StartTLS string
	CertDays string
	Proxy    proxyproto.Version // --proxy-protocol

	// clientCert and clientKey are taken only to be refused with the
	// reason (refusedClientCert): the options mean the same in every
	// binary, and this one cannot honour them.
	clientCert, clientKey string

	daysWarn, daysCrit float64 // -1 when not given
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *flags.FlagSet) {
	fs.StringVar(&o.CN, "cn", "", "the certificate must carry `NAME` as CN or SAN (wildcards as TLS matches them)")
	fs.StringVar(&o.SNI, "sni", "", "server `NAME` sent in the ClientHello (SNI); default --cn, else HOST when it is a name")
	fs.StringVar(&o.StartTLS, "starttls", "", "run the `PROTO` upgrade dialogue first: smtp, imap, pop3, ftp or postgres")
	proxyproto.Flag(fs, &o.Proxy, "; with --starttls, before the dialogue")
	fs.StringVar(&o.CertDays, "cert-days", "", "certificate days left `WARN[,CRIT]`: WARNING under WARN days, CRITICAL under CRIT, when expired or not yet valid")
	fs.StringVar(&o.clientCert, "client-cert", "", "refused: see refusedClientCert")
	fs.StringVar(&o.clientKey, "client-key", "", "refused: see refusedClientCert")
	fs.MarkHidden("client-cert")
	fs.MarkHidden("client-key")
}

// refusedClientCert says why check_ssl_hello takes no client certificate:
// a client sends its certificate in its second flight, after the server's
// first, and the check leaves before it (a server that demands one passes
// the hello, and says that it asked). The checks that finish the
// handshake take one.
const refusedClientCert = "check_ssl_hello never sends a client certificate (it leaves before the client's second flight); check_http_status --tls, check_ftp_noop --auth-tls and check_dns_answer --tls do"

// DefaultPort is 443, whatever --starttls says: a STARTTLS service has no
// single usual port worth guessing.
func (o *Options) DefaultPort() uint16 { return 443 }

// Validate checks the options before anything is sent.
func (o *Options) Validate() error {
	o.daysWarn, o.daysCrit = -1, -1
	if o.clientCert != "" {
		return errors.New("--client-cert: " + refusedClientCert)
	}
	if o.clientKey != "" {
		return errors.New("--client-key: " + refusedClientCert)
	}
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

// Probe sends a ClientHello to t and judges the server's answer.
func Probe(ctx context.Context, t probe.Target, o *Options) probe.Result {
	t.Proxy = o.Proxy
	p := &run{t: t, o: o, log: t.Log, addr: t.Addr.String()}
	r := p.do(ctx)
	r.Phases = p.phases
	return r
}

type run struct {
	t      probe.Target
	o      *Options
	log    *probe.Log
	addr   string
	start  time.Time
	mark   time.Time
	phases []probe.Phase
	// took is the time the summary states, once it states one: the
	// harness reports the same as perfdata's time.
	took time.Duration
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

	c := handshake.New(handshake.Config{ServerName: p.serverName(), Log: p.log})
	err := c.Hello(conn)
	res := c.Result()
	p.log.Printf(1, "< %s (%d bytes in %d records)", res.FlightText(), res.Bytes, res.Records)
	if err == nil || errors.Is(err, handshake.ErrKeyMismatch) {
		// The server waits for our second flight: leave quietly.
		what, werr := c.End(conn, p.ending(res))
		if werr != nil {
			what += ": " + probe.Describe(werr)
		}
		p.log.Printf(1, "> %s", what)
	}
	p.phase("tls")
	var r probe.Result
	if err != nil {
		r = p.failure(ctx, res, err)
	} else {
		r = p.judge(res)
	}
	r.Took = p.took
	// For the daemon's metrics (the binary prints none of them).
	r.Facts.TLSVersion, r.Facts.TLSCipher = res.Version, res.Suite
	if res.Cert != nil {
		r.Facts.CertExpiry = res.Cert.NotAfter.Unix()
		r.Facts.CertDER = res.Cert.Raw
	}
	return r
}

// ending is how to leave the server, the quietest way measured (README,
// check_ssl_hello; internal/lab/endings): a close_notify, which
// every server but GnuTLS-based ones (exim) takes without an error line;
// but after STARTTLS under TLS 1.3, with no client certificate asked for,
// our Finished and then a close_notify. Completing the handshake is the
// one ending exim does not log, and leaves postfix and dovecot no TLS
// error; after STARTTLS the server is the application itself, so it
// reaches nothing new. On a TLS port it is not done: a terminator such as
// stunnel opens its backend connection once the handshake completes, a
// connection per probe reaching the service behind it. With a
// certificate request, finishing would send no certificate, which a
// server that requires one logs as an error. Nor after a flight that
// failed its checks (Done unset): there is no transcript to finish.
func (p *run) ending(res *handshake.Result) handshake.Ending {
	if p.o.StartTLS != "" && res.Version >= 0x0304 && !res.CertRequested && res.Done {
		return handshake.Finish
	}
	return handshake.CloseNotify
}

// failure explains a handshake that did not get as far as it should.
func (p *run) failure(ctx context.Context, res *handshake.Result, err error) probe.Result {
	hello := "TLS hello with " + p.addr
	var f *handshake.Fault
	switch {
	case errors.Is(err, handshake.ErrNotTLS):
		return probe.Critical("not TLS from %s: %s", p.addr, probe.Quote(res.First, 32))
	case errors.Is(err, handshake.ErrKeyMismatch):
		return probe.Critical("certificate %s does not match the server's private key: %s (%s)", subject(res.Cert), err, p.chosen(res))
	case errors.Is(err, handshake.ErrFinished), errors.Is(err, handshake.ErrDecrypt), errors.Is(err, handshake.ErrCertificate):
		return probe.Critical("%s: %s", p.chosen(res), err)
	case errors.As(err, &f):
		return probe.Critical("%s from %s after %s", f.Msg, p.addr, sentSoFar(res))
	case ctx.Err() != nil || probe.IsTimeout(err):
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		if len(res.Seen) == 0 {
			return probe.Fail("waiting for the ServerHello from "+p.addr, err)
		}
		return probe.Fail(fmt.Sprintf("%s: waiting after %s", hello, res.FlightText()), err)
	}
	where := "before the ServerHello"
	if res.Hello {
		where = "after " + res.FlightText()
		if res.Partial {
			where += " and part of a record"
		}
	} else if res.Partial {
		where = "in the middle of a record"
	}
	return probe.Fail(hello+" "+where, err)
}

// chosen is what the server chose and when: "TLSv1.3
// TLS_AES_128_GCM_SHA256 from 10.0.0.5:443 in 1.42 ms".
func (p *run) chosen(res *handshake.Result) string {
	if p.took == 0 {
		p.took = time.Since(p.start)
	}
	return fmt.Sprintf("%s %s from %s in %s", handshake.VersionName(res.Version), handshake.SuiteName(res.Suite), p.addr, probe.Millis(p.took))
}

// sentSoFar names what the server had answered before its alert.
func sentSoFar(res *handshake.Result) string {
	if len(res.Seen) == 0 {
		return "our ClientHello"
	}
	return res.FlightText()
}

// judge makes the verdict once the server's flight was received and
// checked.
func (p *run) judge(res *handshake.Result) probe.Result {
	var s strings.Builder
	s.WriteString(p.chosen(res))
	if res.Retry {
		s.WriteString(" after HelloRetryRequest")
	}
	if res.CertRequested {
		s.WriteString(", client certificate requested")
	}
	if res.Proof == 0 {
		p.log.Printf(1, "no signature in the flight proves the server holds the certificate's key (%s)", handshake.SuiteName(res.Suite))
	}
	c := res.Cert
	if c == nil {
		if p.o.CN != "" || p.o.daysWarn >= 0 {
			return probe.Critical("%s, but no certificate", s.String())
		}
		return probe.OK("%s", s.String())
	}
	// One clock reading, one figure of days left, for the summary, the
	// thresholds and the perfdata alike: rounded down to a tenth.
	now := time.Now()
	days := math.Floor(c.NotAfter.Sub(now).Hours()/24*10) / 10
	notYet := now.Before(c.NotBefore)
	fmt.Fprintf(&s, ", certificate %s", subject(c))
	switch {
	case notYet:
		fmt.Fprintf(&s, " valid from %s (in %.1f days), expires %s", c.NotBefore.UTC().Format("2006-01-02 15:04 MST"),
			math.Ceil(c.NotBefore.Sub(now).Hours()/24*10)/10, c.NotAfter.UTC().Format(time.DateOnly))
	case days < 0:
		fmt.Fprintf(&s, " expired %s, %.1f days ago", c.NotAfter.UTC().Format(time.DateOnly), -days)
	default:
		fmt.Fprintf(&s, " expires %s", c.NotAfter.UTC().Format(time.DateOnly))
	}
	p.log.Printf(1, "certificate %s, issuer %s, DNS names %s, valid from %s to %s (%.1f days left)", probe.Clean(c.Subject.String(), 200),
		probe.Clean(c.Issuer.String(), 200), probe.Clean(strings.Join(c.DNSNames, " "), 200),
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), days)

	r := probe.OK("%s", s.String())
	if p.o.CN != "" && !matches(c, p.o.CN) {
		r = probe.Critical("certificate %s does not match --cn %s (%s)", certNames(c), p.o.CN, s.String())
	}
	if p.o.daysWarn >= 0 {
		// "N:" is the guideline's "alert below N", the --cert-days rule;
		// without a critical figure, an expired certificate is critical.
		m := probe.Metric{Label: "days_left", Value: days,
			Warn: fmt.Sprintf("%g:", p.o.daysWarn), Crit: fmt.Sprintf("%g:", max(p.o.daysCrit, 0))}
		r.Metrics = append(r.Metrics, m)
		state, why := exitcode.OK, ""
		switch {
		case notYet:
			state, why = exitcode.Critical, "certificate not yet valid"
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
	if c == nil {
		return "(none)"
	}
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

// serverName is the SNI: --sni, else --cn, else HOST when it is a name.
// None is sent for an IP address.
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
