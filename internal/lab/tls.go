package lab

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
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
	// TLSNotYetDays: TLSNotYet's certificate is valid from this many days
	// after the start.
	TLSNotYetDays = 10
	// DHESuite is what DHEOnly chooses: TLS_DHE_RSA_WITH_AES_128_GCM_SHA256.
	DHESuite = 0x009e
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
	TLSRetry    netip.AddrPort // TLS 1.3 with P-384 only: the ClientHello has no share for it
	TLSExpired  netip.AddrPort // TLS 1.2 with an expired certificate
	TLSNotYet   netip.AddrPort // TLS 1.3 with a certificate valid from TLSNotYetDays on
	TLSLegacyCN netip.AddrPort // TLS 1.2, certificate with a CN and no SAN
	TLS13BadKey netip.AddrPort // TLS 1.3 signing with a key that is not its certificate's
	TLS12BadKey netip.AddrPort // TLS 1.2 ECDHE, likewise
	DHEOnly     netip.AddrPort // TLS 1.2 with DHE suites only, which Go's TLS cannot offer
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
	notYet, err := selfSignedFrom("notyet.lab.test", []string{"notyet.lab.test"}, now.Add(TLSNotYetDays*24*time.Hour), now.Add((TLSNotYetDays+90)*24*time.Hour))
	if err != nil {
		return nil, err
	}
	// A key that is not the certificate's: what a server with the wrong
	// key file configured signs with.
	other, err := selfSigned(TLSCertName, nil, now.Add(TLSCertDays*24*time.Hour))
	if err != nil {
		return nil, err
	}
	badKey := tls.Certificate{Certificate: l.cert.Certificate, PrivateKey: other.PrivateKey}
	dhe, err := newDHEServer()
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
		{&l.TLSRetry, tlsServer(cfg(l.cert, t13, t13, tls.NoClientCert, tls.CurveP384))},
		{&l.TLSExpired, tlsServer(cfg(expired, t12, t12, tls.NoClientCert))},
		{&l.TLSNotYet, tlsServer(cfg(notYet, t13, t13, tls.NoClientCert))},
		{&l.TLSLegacyCN, tlsServer(cfg(legacy, t12, t12, tls.NoClientCert))},
		{&l.TLS13BadKey, tlsServer(cfg(badKey, t13, t13, tls.NoClientCert))},
		{&l.TLS12BadKey, tlsServer(cfg(badKey, t12, t12, tls.NoClientCert))},
		{&l.DHEOnly, dhe.serve},
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
		{"tls-retry", l.TLSRetry}, {"tls-expired", l.TLSExpired}, {"tls-not-yet-valid", l.TLSNotYet}, {"tls-legacy-cn", l.TLSLegacyCN},
		{"tls13-bad-key", l.TLS13BadKey}, {"tls12-bad-key", l.TLS12BadKey}, {"tls-dhe-only", l.DHEOnly},
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

// dheServer is a TLS 1.2 server that knows only DHE suites, as
// gnutls-serv or openssl s_server configured so: no Go server can be
// (crypto/tls has no DHE). It reads the ClientHello, answers
// handshake_failure if TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 is not
// offered, else sends ServerHello, Certificate, a ServerKeyExchange
// signed (rsa_pss_rsae_sha256) over both randoms and the DH parameters,
// and ServerHelloDone, then waits for the client to leave.
type dheServer struct {
	key  *rsa.PrivateKey
	cert []byte
}

func newDHEServer() (*dheServer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "dhe.lab.test"},
		DNSNames:     []string{"dhe.lab.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(TLSCertDays * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("lab certificate dhe.lab.test: %w", err)
	}
	return &dheServer{key: key, cert: der}, nil
}

func (d *dheServer) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] != 22 {
		return
	}
	ch := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(c, ch); err != nil || len(ch) < 4+2+32+1 {
		return
	}
	random := ch[6:38]
	rest := ch[38:]
	rest = rest[1+int(rest[0]):] // session id
	if len(rest) < 2 {
		return
	}
	n := int(binary.BigEndian.Uint16(rest))
	if len(rest) < 2+n {
		return
	}
	offered := false
	for i := 2; i+1 < 2+n; i += 2 {
		offered = offered || binary.BigEndian.Uint16(rest[i:]) == DHESuite
	}
	if !offered {
		c.Write([]byte{21, 3, 3, 0, 2, 2, 40})
		return
	}
	msg := func(typ byte, body []byte) []byte {
		return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	}
	vec16 := func(b []byte) []byte { return append([]byte{byte(len(b) >> 8), byte(len(b))}, b...) }
	serverRandom := make([]byte, 32)
	rand.Read(serverRandom)
	sh := append([]byte{3, 3}, serverRandom...)
	sh = append(sh, 0, DHESuite>>8, DHESuite&0xff, 0)
	certs := append([]byte{0, 0, 0}, byte(len(d.cert)>>16), byte(len(d.cert)>>8), byte(len(d.cert)))
	certs = append(certs, d.cert...)
	l := len(certs) - 3
	certs[0], certs[1], certs[2] = byte(l>>16), byte(l>>8), byte(l)
	// RFC 3526 group 14 would do as well: a hello never uses the key.
	p := bytes.Repeat([]byte{0xff}, 256)
	y := make([]byte, 256)
	rand.Read(y)
	params := append(append(vec16(p), vec16([]byte{2})...), vec16(y)...)
	h := sha256.Sum256(append(append(append([]byte{}, random...), serverRandom...), params...))
	sig, err := rsa.SignPSS(rand.Reader, d.key, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		return
	}
	ske := append(append(params, 0x08, 0x04), vec16(sig)...)
	flight := bytes.Join([][]byte{msg(2, sh), msg(11, certs), msg(12, ske), msg(14, nil)}, nil)
	c.Write(append([]byte{22, 3, 3, byte(len(flight) >> 8), byte(len(flight))}, flight...))
	io.Copy(io.Discard, c)
}

// selfSigned makes a certificate for cn with the given DNS SANs (and the
// loopback addresses when it has SANs), expiring at notAfter.
func selfSigned(cn string, dns []string, notAfter time.Time) (tls.Certificate, error) {
	return selfSignedFrom(cn, dns, notAfter.Add(-365*24*time.Hour), notAfter)
}

// selfSignedFrom is selfSigned valid from notBefore.
func selfSignedFrom(cn string, dns []string, notBefore, notAfter time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"lbcheck lab"}},
		DNSNames:              dns,
		NotBefore:             notBefore,
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
