package lab

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"time"
)

// TLS names on the TLS lab's certificates.
const (
	TLSCertName  = "tls.lab.test"    // CN and SAN of the main certificate; also *.wild.lab.test
	LegacyCNName = "legacy.lab.test" // CN only, no SAN, as old certificates have
	TLSCertDays  = 20                // the main certificate expires this many days from the start
)

// TLSLab runs the servers check_ssl_hello is tested against: Go TLS
// servers of each version, with and without a demand for client
// certificates, one that forces a HelloRetryRequest, STARTTLS servers, and
// the fakes a real server will not imitate: an alert as the first answer,
// a truncated record, a record longer than TLS allows, an answer that is
// not TLS, silence.
type TLSLab struct {
	TLS12       netip.AddrPort // TLS 1.2 only
	TLS12Auth   netip.AddrPort // TLS 1.2, requires a client certificate
	TLS13       netip.AddrPort // TLS 1.3 only
	TLS13Auth   netip.AddrPort // TLS 1.3, requires a client certificate
	TLSRetry    netip.AddrPort // TLS 1.3 with P-256 only: Go's ClientHello has no share for it
	TLSExpired  netip.AddrPort // TLS 1.2 with an expired certificate
	TLSLegacyCN netip.AddrPort // TLS 1.2, certificate with a CN and no SAN
	Alert       netip.AddrPort // answers the ClientHello with a handshake_failure alert
	Truncated   netip.AddrPort // a record cut short, then close
	Overlong    netip.AddrPort // a record header longer than TLS allows
	NotTLS      netip.AddrPort // an HTTP error page
	HelloStall  netip.AddrPort // half a ServerHello record, then silence
	Silent      netip.AddrPort // accepts and never answers
	SMTP        netip.AddrPort // ESMTP with STARTTLS
	SMTPNoTLS   netip.AddrPort // ESMTP that refuses STARTTLS (454)
	IMAP        netip.AddrPort // IMAP with STARTTLS
	POP3        netip.AddrPort // POP3 with STLS
	FTP         netip.AddrPort // FTP with AUTH TLS
	Postgres    netip.AddrPort // PostgreSQL SSLRequest answered 'S'
	PostgresNo  netip.AddrPort // PostgreSQL SSLRequest answered 'N'

	cert tls.Certificate
	pool
}

// StartTLS starts every server of the TLS lab. Close stops them.
func StartTLS() (_ *TLSLab, err error) {
	l := &TLSLab{}
	l.stopping = make(chan struct{}) // no files: no directory
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	now := time.Now()
	if l.cert, err = selfSigned(TLSCertName, []string{TLSCertName, "*.wild.lab.test", "localhost"}, now.Add(TLSCertDays*24*time.Hour)); err != nil {
		return nil, err
	}
	expired, err := selfSigned("expired.lab.test", []string{"expired.lab.test"}, now.Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	legacy, err := selfSigned(LegacyCNName, nil, now.Add(TLSCertDays*24*time.Hour))
	if err != nil {
		return nil, err
	}
	cfg := func(cert tls.Certificate, minV, maxV uint16, auth tls.ClientAuthType, curves ...tls.CurveID) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minV, MaxVersion: maxV, ClientAuth: auth, CurvePreferences: curves}
	}
	t12, t13 := uint16(tls.VersionTLS12), uint16(tls.VersionTLS13)
	servers := []struct {
		addr *netip.AddrPort
		fn   func(net.Conn)
	}{
		{&l.TLS12, tlsServer(cfg(l.cert, t12, t12, tls.NoClientCert))},
		{&l.TLS12Auth, tlsServer(cfg(l.cert, t12, t12, tls.RequireAnyClientCert))},
		{&l.TLS13, tlsServer(cfg(l.cert, t13, t13, tls.NoClientCert))},
		{&l.TLS13Auth, tlsServer(cfg(l.cert, t13, t13, tls.RequireAnyClientCert))},
		{&l.TLSRetry, tlsServer(cfg(l.cert, t13, t13, tls.NoClientCert, tls.CurveP256))},
		{&l.TLSExpired, tlsServer(cfg(expired, t12, t12, tls.NoClientCert))},
		{&l.TLSLegacyCN, tlsServer(cfg(legacy, t12, t12, tls.NoClientCert))},
		{&l.Alert, alertFirst},
		{&l.Truncated, truncated},
		{&l.Overlong, overlong},
		{&l.NotTLS, notTLS},
		{&l.HelloStall, l.helloStall},
		{&l.Silent, l.silent},
		{&l.SMTP, starttls(cfg(l.cert, 0, 0, tls.NoClientCert), smtpDialogue(true))},
		{&l.SMTPNoTLS, starttls(nil, smtpDialogue(false))},
		{&l.IMAP, starttls(cfg(l.cert, 0, 0, tls.NoClientCert), imapDialogue)},
		{&l.POP3, starttls(cfg(l.cert, 0, 0, tls.NoClientCert), pop3Dialogue)},
		{&l.FTP, starttls(cfg(l.cert, 0, 0, tls.NoClientCert), ftpDialogue)},
		{&l.Postgres, starttls(cfg(l.cert, 0, 0, tls.NoClientCert), postgresDialogue('S'))},
		{&l.PostgresNo, starttls(nil, postgresDialogue('N'))},
	}
	for _, s := range servers {
		// No fake needs long: a stuck client must not hold Close.
		if *s.addr, err = l.serve("tcp4", 30*time.Second, s.fn); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Addrs lists the servers by name, for the demo.
func (l *TLSLab) Addrs() []Named {
	return []Named{
		{"tls12", l.TLS12}, {"tls12-auth", l.TLS12Auth}, {"tls13", l.TLS13}, {"tls13-auth", l.TLS13Auth},
		{"tls-retry", l.TLSRetry}, {"tls-expired", l.TLSExpired}, {"tls-legacy-cn", l.TLSLegacyCN},
		{"tls-alert", l.Alert}, {"tls-truncated", l.Truncated}, {"tls-overlong", l.Overlong}, {"tls-not-tls", l.NotTLS},
		{"tls-hello-stall", l.HelloStall}, {"tls-silent", l.Silent}, {"smtp", l.SMTP}, {"smtp-notls", l.SMTPNoTLS},
		{"imap", l.IMAP}, {"pop3", l.POP3}, {"ftp-tls", l.FTP}, {"postgres", l.Postgres}, {"postgres-notls", l.PostgresNo},
	}
}

// Close stops every server.
func (l *TLSLab) Close() { l.shutdown() }

func tlsServer(cfg *tls.Config) func(net.Conn) {
	return func(c net.Conn) { tls.Server(c, cfg).Handshake() }
}

// readRecord reads one TLS record (the ClientHello) and discards it.
func readRecord(c net.Conn) error {
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	_, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint16(hdr[3:])))
	return err
}

func alertFirst(c net.Conn) {
	if readRecord(c) == nil {
		c.Write([]byte{21, 3, 3, 0, 2, 2, 40})
	}
}

// truncated sends a ServerHello record that promises 100 bytes and
// carries 10, then closes.
func truncated(c net.Conn) {
	if readRecord(c) == nil {
		c.Write([]byte{22, 3, 3, 0, 100, 2, 0, 0, 96, 3, 3, 1, 2, 3, 4})
	}
}

// overlong sends a record header claiming 20000 bytes (TLS allows 18432)
// and as many bytes as the client reads.
func overlong(c net.Conn) {
	if readRecord(c) == nil {
		c.Write([]byte{22, 3, 3, 0x4e, 0x20})
		c.Write(make([]byte, 20000))
	}
}

// notTLS answers as a plain HTTP server does to bytes it cannot parse,
// with a '|' and a control byte a careless check would print raw.
func notTLS(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	c.Read(make([]byte, 512))
	c.Write([]byte("HTTP/1.1 400 Bad Request\r\nX: a|b\x1b[31m\r\n\r\n"))
}

// helloStall sends the first half of a ServerHello record and waits.
func (l *TLSLab) helloStall(c net.Conn) {
	if readRecord(c) == nil {
		c.Write([]byte{22, 3, 3, 0, 80, 2, 0, 0, 76, 3, 3})
		l.wait(c)
	}
}

func (l *TLSLab) silent(c net.Conn) { l.wait(c) }

// wait reads and discards until the client closes or the lab stops.
func (l *TLSLab) wait(c net.Conn) {
	go func() {
		<-l.stopping
		c.Close()
	}()
	io.Copy(io.Discard, c)
}

// starttls runs a protocol's upgrade dialogue, then a TLS server if the
// dialogue agreed to it (cfg not nil).
func starttls(cfg *tls.Config, dialogue func(*bufio.ReadWriter) bool) func(net.Conn) {
	return func(c net.Conn) {
		rw := bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
		if !dialogue(rw) || cfg == nil {
			return
		}
		tls.Server(c, cfg).Handshake()
	}
}

// command reads one command line; false at EOF or error.
func command(rw *bufio.ReadWriter) (string, bool) {
	line, err := rw.ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err == nil
}

func say(rw *bufio.ReadWriter, lines ...string) {
	for _, l := range lines {
		rw.WriteString(l + "\r\n")
	}
	rw.Flush()
}

func smtpDialogue(offer bool) func(*bufio.ReadWriter) bool {
	return func(rw *bufio.ReadWriter) bool {
		say(rw, "220 smtp.lab.test ESMTP lab")
		for {
			cmd, ok := command(rw)
			if !ok {
				return false
			}
			switch verb := strings.ToUpper(strings.Fields(cmd + " x")[0]); {
			case verb == "EHLO" && offer:
				say(rw, "250-smtp.lab.test", "250-PIPELINING", "250-STARTTLS", "250 8BITMIME")
			case verb == "EHLO":
				say(rw, "250-smtp.lab.test", "250 8BITMIME")
			case verb == "STARTTLS" && offer:
				say(rw, "220 2.0.0 Ready to start TLS")
				return true
			case verb == "STARTTLS":
				say(rw, "454 4.7.0 TLS not available")
			case verb == "QUIT":
				say(rw, "221 2.0.0 Bye")
				return false
			default:
				say(rw, "502 5.5.2 Error: command not recognized")
			}
		}
	}
}

func imapDialogue(rw *bufio.ReadWriter) bool {
	say(rw, "* OK [CAPABILITY IMAP4rev1 STARTTLS] lab ready")
	cmd, ok := command(rw)
	tag, verb, _ := strings.Cut(cmd, " ")
	if !ok || !strings.EqualFold(verb, "STARTTLS") {
		say(rw, tag+" BAD unexpected")
		return false
	}
	say(rw, "* CAPABILITY IMAP4rev1 STARTTLS", tag+" OK Begin TLS negotiation now")
	return true
}

func pop3Dialogue(rw *bufio.ReadWriter) bool {
	say(rw, "+OK lab POP3 ready")
	if cmd, ok := command(rw); !ok || cmd != "STLS" {
		say(rw, "-ERR unexpected")
		return false
	}
	say(rw, "+OK Begin TLS negotiation")
	return true
}

func ftpDialogue(rw *bufio.ReadWriter) bool {
	say(rw, "220-lab FTP", "220 ready")
	if cmd, ok := command(rw); !ok || cmd != "AUTH TLS" {
		say(rw, "500 unexpected")
		return false
	}
	say(rw, "234 Proceed with negotiation.")
	return true
}

func postgresDialogue(answer byte) func(*bufio.ReadWriter) bool {
	return func(rw *bufio.ReadWriter) bool {
		var req [8]byte
		if _, err := io.ReadFull(rw, req[:]); err != nil || binary.BigEndian.Uint32(req[4:]) != 80877103 {
			return false
		}
		rw.WriteByte(answer)
		rw.Flush()
		return answer == 'S'
	}
}

// selfSigned makes a certificate for cn with the given DNS SANs (and the
// loopback addresses when it has SANs), expiring at notAfter.
func selfSigned(cn string, dns []string, notAfter time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"lbcheck lab"}},
		DNSNames:              dns,
		NotBefore:             notAfter.Add(-365 * 24 * time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	if len(dns) > 0 {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("lab certificate %s: %w", cn, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
