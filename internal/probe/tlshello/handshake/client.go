// Package handshake is the TLS client side of check_ssl_hello, on the wire:
// one ClientHello that offers TLS 1.0 to 1.3 and every cipher suite a
// server may choose, then the server's first flight read and judged here.
//
// Under TLS <= 1.2 the flight up to ServerHelloDone is in the clear: the
// certificate is read from the Certificate message and, for (EC)DHE
// suites, the ServerKeyExchange signature is checked with its key, which
// proves the server holds it. Under TLS 1.3 everything after the
// ServerHello is encrypted: a real client key schedule (X25519 or an
// ECDHE share, HKDF, AES-GCM or ChaCha20-Poly1305) decrypts it, and the
// CertificateVerify signature over the transcript and the server's
// Finished are checked. Then End leaves the server one of the ways
// Ending names (the probe picks the one that server logs least).
//
// crypto/tls is not used: it cannot offer suites it does not implement
// (DHE, CAMELLIA, ARIA), and it is not linked into the binary, which
// starts faster for it. Nothing here runs at package initialisation.
package handshake

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"hash"
	"io"
	"net"
	"strings"
)

// Logger receives the trace; *probe.Log is one.
type Logger interface {
	Enabled(level int) bool
	Printf(level int, format string, a ...any)
}

// Config is what a ClientHello offers. The zero value offers everything.
type Config struct {
	// ServerName goes in the SNI extension; none for an address or "".
	ServerName string
	Log        Logger
	// Suites, when not nil, offers only these (for tests).
	Suites []uint16
	// MaxVersion, when not 0, offers no version above it (for tests).
	MaxVersion uint16
	// Shares are the groups that get a key share in the first
	// ClientHello; nil is X25519 and P-256. P-256 alone would be cheaper
	// (its key pair costs 0.18 M instructions, X25519's 0.57 M), but
	// GnuTLS (exim) then asks for X25519 with a HelloRetryRequest, and
	// X25519 alone makes FIPS and Java 8 servers ask for P-256: a round
	// trip and a second ClientHello on every probe. Any other group we
	// support is answered when a HelloRetryRequest asks for it.
	Shares []uint16
}

// groups are the named groups offered: the ones whose key exchange we can
// do under TLS 1.3. A TLS <= 1.2 server picks its ECDHE curve from them.
// (X25519MLKEM768 is not offered: an OpenSSL 3.5 server that prefers it
// would ask for it with a HelloRetryRequest on every probe, a round trip
// and a second ClientHello each time.)
var groups = [...]uint16{groupX25519, groupP256, groupP384, groupP521}

// schemes are the signature schemes offered. Under TLS 1.3 only those we
// verify can be chosen for a CertificateVerify (the RSA PKCS#1, SHA-1 and
// DSA ones are TLS <= 1.2 only, where a DSA signature is not checked).
var schemes = [...]uint16{
	sigECDSAP256, sigPSSRSAESHA256, sigPKCS1SHA256,
	sigECDSAP384, sigPSSRSAESHA384, sigPKCS1SHA384,
	sigECDSAP521, sigPSSRSAESHA512, sigPKCS1SHA512,
	sigEd25519, sigPKCS1SHA1, sigECDSASHA1, sigDSASHA256, sigDSASHA1,
}

// Result is what the server's answer showed, as far as it went.
type Result struct {
	Version    uint16 // chosen by the ServerHello (supported_versions wins)
	Suite      uint16
	Hello      bool   // a ServerHello (not a HelloRetryRequest) was read
	Retry      bool   // a HelloRetryRequest came first
	RetryGroup uint16 // the group it asked for, 0 for none
	Group      uint16 // the key exchange group (TLS 1.3; ECDHE under 1.2)

	CertRequested bool              // the server asked for a client certificate
	Chain         int               // certificates the server sent
	Cert          *x509.Certificate // the first of them, parsed

	// Proof is the signature scheme of the signature that proved the
	// server holds the certificate's key: its CertificateVerify (TLS 1.3)
	// or ServerKeyExchange (TLS <= 1.2, (EC)DHE); 0 when the flight
	// carries none we check (RSA or static ECDH key exchange, DSA).
	Proof   uint16
	ProofBy uint8 // msgCertificateVerify or msgServerKeyExchange
	// Done: the flight is complete: ServerHelloDone was read, or the
	// server's Finished verified.
	Done bool

	Seen    []uint8 // handshake messages read, in order (bounded)
	Bytes   int64   // bytes read
	Records int     // records read
	First   []byte  // the first bytes read, to quote
	Partial bool    // the answer ended in the middle of a record
}

// FlightText lists the handshake messages read: "ServerHello,
// Certificate, ServerHelloDone".
func (r *Result) FlightText() string {
	if len(r.Seen) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for i, t := range r.Seen {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(MessageName(t))
	}
	return b.String()
}

// Client runs one hello on one connection.
type Client struct {
	cfg  Config
	log  Logger
	rs   records
	res  Result
	rand io.Reader // the random and session ID come from here

	random    [32]byte
	sessionID [32]byte
	hello     []byte // the ClientHello message as sent (the last one)
	shares    []share

	// Handshake messages not yet consumed: a message may span records
	// and a record may hold several.
	hs []byte

	// TLS <= 1.2
	serverRandom []byte
	ske          []byte // ServerKeyExchange body

	// TLS 1.3
	suite13      *suite13
	transcript   hash.Hash
	handshakeKey []byte // the handshake secret
	clientHS     []byte // client handshake traffic secret
	serverHS     []byte // server handshake traffic secret
	in, out      *halfConn
	ccs          int    // ChangeCipherSpec records read
	crContext    []byte // the CertificateRequest's context, to echo
}

type share struct {
	group uint16
	key   *ecdh.PrivateKey
}

// New makes a client for one hello.
func New(cfg Config) *Client {
	return &Client{cfg: cfg, log: cfg.Log, rand: rand.Reader}
}

func (c *Client) trace(level int, format string, a ...any) {
	if c.log != nil {
		c.log.Printf(level, format, a...)
	}
}

// Result returns what was read so far; valid after Hello, whatever it
// returned.
func (c *Client) Result() *Result {
	r := &c.res
	r.Bytes, r.Records, r.First, r.Partial = c.rs.total, c.rs.count, c.rs.first, c.rs.partial()
	return r
}

// Hello sends the ClientHello on conn and reads the server's first flight,
// answering a HelloRetryRequest. It returns nil when the flight is
// complete and every check passed; a *Fault for what the server got
// wrong; or the read or write error.
func (c *Client) Hello(conn io.ReadWriter) error {
	c.rs.r, c.rs.log = conn, c.log
	if _, err := io.ReadFull(c.rand, c.random[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(c.rand, c.sessionID[:]); err != nil {
		return err
	}
	first := c.cfg.Shares
	if first == nil {
		first = []uint16{groupX25519, groupP256}
	}
	if err := c.newShares(first); err != nil {
		return err
	}
	c.hello = c.clientHello(nil)
	if c.log != nil && c.log.Enabled(1) { // its words cost more than the hello
		c.trace(1, "> ClientHello, %s, %d cipher suites, key shares %s, %s", c.versionsText(), len(c.offeredSuites()), c.sharesText(), c.sniText())
	}
	if err := c.send(conn, recordHandshake, 0x0301, c.hello); err != nil {
		return err
	}
	msg, err := c.readMessage()
	if err != nil {
		return err
	}
	sh, err := c.serverHello(msg)
	if err != nil {
		return err
	}
	if sh.retry {
		if sh, msg, err = c.retry(conn, sh, msg); err != nil {
			return err
		}
	}
	if c.res.Version >= 0x0304 {
		return c.flight13(sh, msg)
	}
	return c.flight12()
}

func (c *Client) versionsText() string {
	if m := c.maxVersion(); m != 0x0304 {
		return "TLS 1.0 to " + strings.TrimPrefix(VersionName(m), "TLSv")
	}
	return "TLS 1.0 to 1.3"
}

func (c *Client) sharesText() string {
	var s []string
	for _, sh := range c.shares {
		s = append(s, GroupName(sh.group))
	}
	return strings.Join(s, " ")
}

func (c *Client) sniText() string {
	if n := c.sni(); n != "" {
		return "SNI " + n
	}
	return "no SNI"
}

// sni is the name for the SNI extension: none for an address (RFC 6066
// 3), no trailing dot.
func (c *Client) sni() string {
	n := strings.TrimSuffix(c.cfg.ServerName, ".")
	if net.ParseIP(n) != nil {
		return ""
	}
	return n
}

func (c *Client) maxVersion() uint16 {
	if c.cfg.MaxVersion != 0 {
		return c.cfg.MaxVersion
	}
	return 0x0304
}

func (c *Client) offeredSuites() []uint16 {
	if c.cfg.Suites != nil {
		return c.cfg.Suites
	}
	ids := make([]uint16, len(suites))
	for i := range suites {
		ids[i] = suites[i].id
	}
	return ids
}

func (c *Client) offered(id uint16) bool {
	if c.cfg.Suites == nil {
		return lookupSuite(id) != nil
	}
	for _, s := range c.cfg.Suites {
		if s == id {
			return true
		}
	}
	return false
}

// newShares makes a fresh key pair for each group.
func (c *Client) newShares(gs []uint16) error {
	c.shares = c.shares[:0]
	for _, g := range gs {
		curve := curveOf(g)
		if curve == nil {
			continue
		}
		k, err := curve.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		c.shares = append(c.shares, share{g, k})
	}
	return nil
}

func curveOf(g uint16) ecdh.Curve {
	switch g {
	case groupX25519:
		return ecdh.X25519()
	case groupP256:
		return ecdh.P256()
	case groupP384:
		return ecdh.P384()
	case groupP521:
		return ecdh.P521()
	}
	return nil
}

// Extension types (RFC 8446 4.2 and others).
const (
	extServerName          = 0
	extSupportedGroups     = 10
	extECPointFormats      = 11
	extSignatureAlgorithms = 13
	extPadding             = 21
	extExtendedMaster      = 23
	extPreSharedKey        = 41
	extSupportedVersions   = 43
	extCookie              = 44
	extKeyShare            = 51
	extRenegotiationInfo   = 0xff01
)

// clientHello builds the ClientHello message (header included) with the
// current key shares, and the cookie of a HelloRetryRequest.
func (c *Client) clientHello(cookie []byte) []byte {
	var w builder
	w.u8(1) // client_hello
	msg := w.open(3)
	w.u16(0x0303)
	w.bytes(c.random[:])
	w.vec8(c.sessionID[:])
	at := w.open(2)
	for _, s := range c.offeredSuites() {
		if s>>8 == 0x13 && c.maxVersion() < 0x0304 {
			continue
		}
		w.u16(s)
	}
	w.close16(at)
	w.vec8([]byte{0}) // no compression
	exts := w.open(2)
	if n := c.sni(); n != "" {
		w.u16(extServerName)
		a := w.open(2)
		b := w.open(2)
		w.u8(0) // host_name
		w.vec16([]byte(n))
		w.close16(b)
		w.close16(a)
	}
	w.u16(extECPointFormats)
	w.vec16([]byte{1, 0}) // uncompressed
	w.u16(extSupportedGroups)
	a := w.open(2)
	b := w.open(2)
	for _, g := range groups {
		w.u16(g)
	}
	w.close16(b)
	w.close16(a)
	w.u16(extSignatureAlgorithms)
	a = w.open(2)
	b = w.open(2)
	for _, s := range schemes {
		w.u16(s)
	}
	w.close16(b)
	w.close16(a)
	w.u16(extRenegotiationInfo)
	w.vec16([]byte{0})
	w.u16(extExtendedMaster)
	w.u16(0)
	w.u16(extSupportedVersions)
	a = w.open(2)
	b = w.open(1)
	for v := c.maxVersion(); v >= 0x0301; v-- {
		w.u16(v)
	}
	w.close8(b)
	w.close16(a)
	if c.maxVersion() >= 0x0304 {
		w.u16(extKeyShare)
		a = w.open(2)
		b = w.open(2)
		for _, s := range c.shares {
			w.u16(s.group)
			w.vec16(s.key.PublicKey().Bytes())
		}
		w.close16(b)
		w.close16(a)
	}
	if cookie != nil {
		w.u16(extCookie)
		a = w.open(2)
		w.vec16(cookie)
		w.close16(a)
	}
	// Some servers (F5 BIG-IP, by record) hang on a ClientHello of 256 to
	// 511 bytes: pad such a one to 512 (RFC 7685), as browsers do.
	if n := len(w.b); n >= 256 && n < 512 {
		pad := 512 - n - 4
		if pad < 1 {
			pad = 1
		}
		w.u16(extPadding)
		w.vec16(make([]byte, pad))
	}
	w.close16(exts)
	w.close24(msg)
	return w.b
}

// send writes one message as one record.
func (c *Client) send(conn io.Writer, typ uint8, version uint16, body []byte) error {
	rec := append([]byte{typ, byte(version >> 8), byte(version), byte(len(body) >> 8), byte(len(body))}, body...)
	c.trace(3, "> %d bytes", len(rec))
	_, err := conn.Write(rec)
	return err
}

// seen records a message type for the trace.
func (c *Client) seen(t uint8) {
	if len(c.res.Seen) < maxSeen {
		c.res.Seen = append(c.res.Seen, t)
	}
}

// readRecord returns the next record's content type and content,
// decrypted once the server's keys changed. Alerts end the hello here;
// TLS 1.3's compatibility ChangeCipherSpec is skipped.
func (c *Client) readRecord() (uint8, []byte, error) {
	for {
		typ, body, err := c.rs.next()
		if err != nil {
			return 0, nil, err
		}
		if typ == recordAppData && c.in != nil {
			if typ, body, err = c.in.open(body); err != nil {
				c.rs.err = err
				return 0, nil, err
			}
		} else if typ == recordAppData {
			return 0, nil, c.fail(fault(ErrBadRecord, "application data before the handshake"))
		}
		switch typ {
		case recordAlert:
			if len(body) < 2 {
				return 0, nil, c.fail(fault(ErrBadRecord, "TLS alert record too short"))
			}
			return 0, nil, c.fail(fault(ErrServerAlert, "TLS alert %s", AlertText(body[0], body[1])))
		case recordCCS:
			if c.res.Version < 0x0304 || !c.res.Hello && !c.res.Retry {
				if c.res.Hello {
					return 0, nil, c.fail(fault(ErrBadHandshake, "ChangeCipherSpec before ServerHelloDone: the server resumed a session we never had"))
				}
				return 0, nil, c.fail(fault(ErrBadHandshake, "ChangeCipherSpec before the ServerHello"))
			}
			if c.ccs++; c.ccs > 1 || len(body) != 1 || body[0] != 1 {
				return 0, nil, c.fail(fault(ErrBadRecord, "a second or malformed ChangeCipherSpec"))
			}
			continue
		case recordHandshake:
			if len(body) == 0 {
				// Forbidden (RFC 5246 6.2.1, RFC 8446 5.1), and a server
				// sending them could keep us reading until the deadline.
				return 0, nil, c.fail(fault(ErrBadRecord, "an empty handshake record"))
			}
			return typ, body, nil
		}
		return 0, nil, c.fail(fault(ErrBadRecord, "application data before the server's Finished"))
	}
}

// fail makes a fault stick, as the record reader does for its own.
func (c *Client) fail(err error) error {
	if c.rs.err == nil {
		c.rs.err = err
	}
	return err
}

// readMessage returns the next handshake message, header included. A
// message may span records; a record of another type in the middle of
// one is a fault.
func (c *Client) readMessage() ([]byte, error) {
	for {
		if len(c.hs) >= 4 {
			n := int(c.hs[1])<<16 | int(c.hs[2])<<8 | int(c.hs[3])
			switch {
			case !c.res.Hello && c.hs[0] != msgServerHello:
				c.seen(c.hs[0])
				return nil, c.fail(fault(ErrBadHandshake, "%s before the ServerHello", MessageName(c.hs[0])))
			case c.hs[0] == msgServerHello && n > maxHelloLen:
				return nil, c.fail(fault(ErrBadHandshake, "ServerHello of %d bytes", n))
			case n > maxMessageLen:
				return nil, c.fail(fault(ErrBadHandshake, "%s of %d bytes, more than the %d we accept", MessageName(c.hs[0]), n, maxMessageLen))
			}
			if len(c.hs) >= 4+n {
				msg := c.hs[:4+n]
				c.hs = c.hs[4+n:]
				if len(c.hs) == 0 {
					c.hs = nil // the next record starts a fresh buffer
				}
				return msg, nil
			}
		}
		_, body, err := c.readRecord()
		if err != nil {
			return nil, err
		}
		// Copy: the record's buffer is reused. A message is at most
		// maxMessageLen, so is this.
		c.hs = append(c.hs, body...)
	}
}

// serverHelloMsg is the part of a ServerHello we use.
type serverHelloMsg struct {
	version   uint16
	random    []byte
	sessionID []byte
	suite     uint16
	retry     bool
	group     uint16 // key_share: the server's group
	share     []byte // key_share: the server's public key (not in an HRR)
	cookie    []byte
	psk       bool
}

// helloRetryRandom is the ServerHello.random that marks a HelloRetryRequest
// (RFC 8446 4.1.3: SHA-256 of "HelloRetryRequest").
var helloRetryRandom = [32]byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

// parseServerHello reads a ServerHello body.
func parseServerHello(b []byte) (*serverHelloMsg, error) {
	bad := func(what string) error { return fault(ErrBadHandshake, "malformed ServerHello (%s)", what) }
	p := parser{b: b}
	sh := &serverHelloMsg{version: p.u16(), random: p.bytes(32)}
	if p.bad {
		return nil, bad("short")
	}
	sh.sessionID = p.vec8()
	if p.bad || len(sh.sessionID) > 32 {
		return nil, bad("session id")
	}
	sh.suite = p.u16()
	if comp := p.u8(); p.bad || comp != 0 {
		if p.bad {
			return nil, bad("short")
		}
		return nil, bad("compression")
	}
	sh.retry = bytes.Equal(sh.random, helloRetryRandom[:])
	if len(p.b) == 0 {
		return sh, nil
	}
	exts := parser{b: p.vec16()}
	if !p.done() {
		return nil, bad("extensions length")
	}
	var seen []uint16
	for len(exts.b) > 0 {
		typ, data := exts.u16(), exts.vec16()
		if exts.bad {
			return nil, bad("extension header")
		}
		for _, s := range seen {
			if s == typ {
				return nil, bad("extension twice")
			}
		}
		if len(seen) < 32 {
			seen = append(seen, typ)
		}
		e := parser{b: data}
		switch typ {
		case extSupportedVersions:
			if sh.version = e.u16(); !e.done() {
				return nil, bad("supported_versions")
			}
		case extKeyShare:
			sh.group = e.u16()
			if !sh.retry {
				sh.share = e.vec16()
			}
			if !e.done() {
				return nil, bad("key_share")
			}
		case extCookie:
			if sh.cookie = e.vec16(); !e.done() || len(sh.cookie) == 0 {
				return nil, bad("cookie")
			}
		case extPreSharedKey:
			sh.psk = true
		}
	}
	return sh, nil
}

// serverHello reads the ServerHello (or HelloRetryRequest) and checks the
// server chose what we offered.
func (c *Client) serverHello(msg []byte) (*serverHelloMsg, error) {
	sh, err := parseServerHello(msg[4:])
	if err != nil {
		c.seen(msgServerHello)
		return nil, c.fail(err)
	}
	if sh.retry {
		c.seen(msgHelloRetryRequest)
	} else {
		c.seen(msgServerHello)
		c.res.Hello = true
	}
	c.res.Version, c.res.Suite = sh.version, sh.suite
	what := "ServerHello"
	if sh.retry {
		what = "HelloRetryRequest"
	}
	switch {
	case sh.version < 0x0301 || sh.version > c.maxVersion():
		return nil, c.fail(fault(ErrUnexpected, "%s chose %s, which we did not offer", what, VersionName(sh.version)))
	case !c.offered(sh.suite) || (sh.suite>>8 == 0x13) != (sh.version >= 0x0304):
		return nil, c.fail(fault(ErrUnexpected, "%s chose %s with %s, which we did not offer", what, SuiteName(sh.suite), VersionName(sh.version)))
	case sh.retry && sh.version < 0x0304:
		return nil, c.fail(fault(ErrBadHandshake, "a HelloRetryRequest for %s", VersionName(sh.version)))
	case sh.psk:
		return nil, c.fail(fault(ErrUnexpected, "%s accepted a pre-shared key we did not offer", what))
	case sh.version >= 0x0304 && !bytes.Equal(sh.sessionID, c.sessionID[:]):
		return nil, c.fail(fault(ErrBadHandshake, "%s does not echo our session ID", what))
	}
	c.serverRandom = sh.random
	return sh, nil
}

// retry answers a HelloRetryRequest with a second ClientHello that has a
// share for the group it asked for (and its cookie), and reads the
// ServerHello that follows.
func (c *Client) retry(conn io.Writer, hrr *serverHelloMsg, hrrMsg []byte) (*serverHelloMsg, []byte, error) {
	c.res.Retry = true
	c.res.RetryGroup = hrr.group
	if hrr.group != 0 {
		ok := curveOf(hrr.group) != nil
		for _, s := range c.shares {
			ok = ok && s.group != hrr.group
		}
		if !ok {
			return nil, nil, c.fail(fault(ErrUnexpected, "HelloRetryRequest asked for %s, which we did not offer or already sent", GroupName(hrr.group)))
		}
	} else if hrr.cookie == nil {
		return nil, nil, c.fail(fault(ErrBadHandshake, "a HelloRetryRequest that asks for nothing"))
	}
	s := newSuite13(hrr.suite)
	c.suite13 = s
	// The transcript starts with a message_hash of the first ClientHello.
	c.transcript = s.hash()
	first := s.hash()
	first.Write(c.hello)
	c.transcript.Write([]byte{msgMessageHash, 0, 0, byte(s.size)})
	c.transcript.Write(first.Sum(nil))
	c.transcript.Write(hrrMsg)
	if hrr.group != 0 {
		if err := c.newShares([]uint16{hrr.group}); err != nil {
			return nil, nil, err
		}
	}
	c.hello = c.clientHello(hrr.cookie)
	c.trace(1, "< HelloRetryRequest for %s", GroupName(hrr.group))
	c.trace(1, "> ClientHello again, key share %s", c.sharesText())
	if err := c.send(conn, recordHandshake, 0x0303, c.hello); err != nil {
		return nil, nil, err
	}
	msg, err := c.readMessage()
	if err != nil {
		return nil, nil, err
	}
	sh, err := c.serverHello(msg)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case sh.retry:
		return nil, nil, c.fail(fault(ErrBadHandshake, "a second HelloRetryRequest"))
	case sh.version != 0x0304:
		return nil, nil, c.fail(fault(ErrBadHandshake, "%s after a HelloRetryRequest", VersionName(sh.version)))
	case sh.suite != hrr.suite:
		return nil, nil, c.fail(fault(ErrBadHandshake, "ServerHello chose %s after its HelloRetryRequest chose %s", SuiteName(sh.suite), SuiteName(hrr.suite)))
	case hrr.group != 0 && sh.group != hrr.group:
		return nil, nil, c.fail(fault(ErrBadHandshake, "ServerHello chose %s after its HelloRetryRequest asked for %s", GroupName(sh.group), GroupName(hrr.group)))
	}
	c.transcript.Write(c.hello)
	return sh, msg, nil
}
