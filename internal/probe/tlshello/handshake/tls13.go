package handshake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
)

// suite13 is a TLS 1.3 cipher suite: its hash and its AEAD.
type suite13 struct {
	hash   func() hash.Hash
	size   int // hash size
	keyLen int
	chacha bool
}

func newSuite13(id uint16) *suite13 {
	switch id {
	case 0x1301:
		return &suite13{sha256.New, 32, 16, false}
	case 0x1302:
		return &suite13{sha512.New384, 48, 32, false}
	case 0x1303:
		return &suite13{sha256.New, 32, 32, true}
	}
	return nil
}

func (s *suite13) aead(key []byte) (cipher.AEAD, error) {
	if s.chacha {
		return newChaCha20Poly1305(key)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// expandLabel is HKDF-Expand-Label (RFC 8446 7.1).
func (s *suite13) expandLabel(secret []byte, label string, context []byte, n int) []byte {
	var w builder
	w.u16(uint16(n))
	w.vec8([]byte("tls13 " + label))
	w.vec8(context)
	out, err := hkdf.Expand(s.hash, secret, string(w.b), n)
	if err != nil {
		panic("tls13: HKDF-Expand-Label of " + label + ": " + err.Error()) // n is always small
	}
	return out
}

func (s *suite13) extract(ikm, salt []byte) []byte {
	if ikm == nil {
		ikm = make([]byte, s.size)
	}
	out, err := hkdf.Extract(s.hash, ikm, salt)
	if err != nil {
		panic("tls13: HKDF-Extract: " + err.Error()) // only for FIPS-mode key sizes
	}
	return out
}

// deriveSecret is Derive-Secret with the transcript hash already taken.
func (s *suite13) deriveSecret(secret []byte, label string, transcriptHash []byte) []byte {
	return s.expandLabel(secret, label, transcriptHash, s.size)
}

func (s *suite13) emptyHash() []byte { return s.hash().Sum(nil) }

// trafficKeys makes one direction's record protection from its secret.
func (s *suite13) trafficKeys(secret []byte) (*halfConn, error) {
	a, err := s.aead(s.expandLabel(secret, "key", nil, s.keyLen))
	if err != nil {
		return nil, err
	}
	h := &halfConn{aead: a}
	copy(h.iv[:], s.expandLabel(secret, "iv", nil, 12))
	return h, nil
}

// halfConn protects the records of one direction (RFC 8446 5.2, 5.3).
type halfConn struct {
	aead cipher.AEAD
	iv   [12]byte
	seq  uint64
}

func (h *halfConn) nonce() []byte {
	n := h.iv
	for i := range 8 {
		n[4+i] ^= byte(h.seq >> (56 - 8*i))
	}
	h.seq++
	return n[:]
}

// open decrypts a protected record's body in place and returns its real
// content type and content.
func (h *halfConn) open(body []byte) (uint8, []byte, error) {
	if len(body) > maxPlaintext+256 {
		return 0, nil, fault(ErrRecordTooLong, "protected TLS record of %d bytes, more than the %d TLS 1.3 allows", len(body), maxPlaintext+256)
	}
	hdr := []byte{recordAppData, 3, 3, byte(len(body) >> 8), byte(len(body))}
	if len(body) < h.aead.Overhead()+1 {
		return 0, nil, fault(ErrDecrypt, "protected TLS record of %d bytes, too short to decrypt", len(body))
	}
	plain, err := h.aead.Open(body[:0], h.nonce(), body, hdr)
	if err != nil {
		return 0, nil, fault(ErrDecrypt, "server handshake records do not decrypt (bad record MAC)")
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return 0, nil, fault(ErrBadRecord, "protected TLS record without a content type")
	}
	if i > maxPlaintext {
		return 0, nil, fault(ErrRecordTooLong, "decrypted TLS record of %d bytes, more than the %d TLS allows", i, maxPlaintext)
	}
	return plain[i], plain[:i], nil
}

// seal protects content of type typ as one record.
func (h *halfConn) seal(typ uint8, content []byte) []byte {
	n := len(content) + 1 + h.aead.Overhead()
	rec := []byte{recordAppData, 3, 3, byte(n >> 8), byte(n)}
	plain := append(append([]byte(nil), content...), typ)
	return h.aead.Seal(rec, h.nonce(), plain, rec[:5])
}

// flight13 derives the handshake keys from the ServerHello's key share,
// then decrypts and checks the rest of the server's flight:
// EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify
// (its signature over the transcript, with the certificate's key) and
// Finished (its MAC over the transcript, with the handshake secret).
func (c *Client) flight13(sh *serverHelloMsg, shMsg []byte) error {
	s := c.suite13
	if s == nil {
		s = newSuite13(sh.suite)
		c.suite13 = s
		c.transcript = s.hash()
		c.transcript.Write(c.hello)
	}
	c.transcript.Write(shMsg)
	if len(c.hs) > 0 {
		return c.fail(fault(ErrBadHandshake, "a handshake message spans the key change"))
	}
	var priv *ecdh.PrivateKey
	for _, k := range c.shares {
		if k.group == sh.group {
			priv = k.key
		}
	}
	if priv == nil {
		return c.fail(fault(ErrUnexpected, "ServerHello chose %s, for which we sent no key share", GroupName(sh.group)))
	}
	pub, err := priv.Curve().NewPublicKey(sh.share)
	if err != nil {
		return c.fail(fault(ErrBadHandshake, "ServerHello key share is no %s point", GroupName(sh.group)))
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		return c.fail(fault(ErrBadHandshake, "ServerHello key share for %s is unusable: %v", GroupName(sh.group), err))
	}
	c.res.Group = sh.group
	c.trace(2, "< ServerHello: %s %s, key share %s", VersionName(c.res.Version), SuiteName(c.res.Suite), GroupName(sh.group))

	early := s.extract(nil, nil)
	c.handshakeKey = s.extract(shared, s.deriveSecret(early, "derived", s.emptyHash()))
	th := c.transcript.Sum(nil)
	c.clientHS = s.deriveSecret(c.handshakeKey, "c hs traffic", th)
	c.serverHS = s.deriveSecret(c.handshakeKey, "s hs traffic", th)
	if c.in, err = s.trafficKeys(c.serverHS); err != nil {
		return err
	}
	if c.out, err = s.trafficKeys(c.clientHS); err != nil {
		return err
	}
	c.rs.protected = true

	next := func(want ...uint8) ([]byte, error) {
		msg, err := c.readMessage()
		if err != nil {
			return nil, err
		}
		c.seen(msg[0])
		for _, w := range want {
			if msg[0] == w {
				return msg, nil
			}
		}
		return nil, c.fail(fault(ErrBadHandshake, "%s where the server's flight needs %s", MessageName(msg[0]), MessageName(want[0])))
	}
	msg, err := next(msgEncryptedExtensions)
	if err != nil {
		return err
	}
	ee := parser{b: msg[4:]}
	if ee.vec16(); !ee.done() {
		return c.fail(fault(ErrBadHandshake, "malformed EncryptedExtensions"))
	}
	c.transcript.Write(msg)
	if msg, err = next(msgCertificate, msgCertificateRequest); err != nil {
		return err
	}
	if msg[0] == msgCertificateRequest {
		p := parser{b: msg[4:]}
		c.crContext = p.vec8()
		if p.vec16(); !p.done() {
			return c.fail(fault(ErrBadHandshake, "malformed CertificateRequest"))
		}
		c.crContext = append([]byte(nil), c.crContext...)
		c.res.CertRequested = true
		c.transcript.Write(msg)
		if msg, err = next(msgCertificate); err != nil {
			return err
		}
	}
	if err := c.certificate13(msg[4:]); err != nil {
		return c.fail(err)
	}
	c.transcript.Write(msg)
	if msg, err = next(msgCertificateVerify); err != nil {
		return err
	}
	if err := c.certificateVerify(msg[4:], c.transcript.Sum(nil)); err != nil {
		return c.fail(err)
	}
	c.transcript.Write(msg)
	if msg, err = next(msgFinished); err != nil {
		return err
	}
	mac := hmac.New(s.hash, s.expandLabel(c.serverHS, "finished", nil, s.size))
	mac.Write(c.transcript.Sum(nil))
	if !hmac.Equal(msg[4:], mac.Sum(nil)) {
		return c.fail(fault(ErrFinished, "server Finished does not verify"))
	}
	c.transcript.Write(msg)
	c.trace(1, "server Finished verified")
	c.res.Done = true
	return nil
}

// certificate13 reads a TLS 1.3 Certificate message: a request context
// (empty from a server) and entries, each a certificate and extensions.
func (c *Client) certificate13(body []byte) error {
	bad := fault(ErrBadHandshake, "malformed Certificate message")
	p := parser{b: body}
	ctx := p.vec8()
	list := parser{b: p.vec24()}
	if !p.done() || len(ctx) != 0 {
		return bad
	}
	var leaf []byte
	for len(list.b) > 0 {
		der := list.vec24()
		list.vec16() // extensions: OCSP, SCT
		if list.bad || len(der) == 0 {
			return bad
		}
		if leaf == nil {
			leaf = der
		}
		c.res.Chain++
	}
	if leaf == nil {
		return fault(ErrBadHandshake, "empty Certificate message")
	}
	return c.parseLeaf(leaf)
}

// certificateVerify checks the server's signature over the transcript
// through its Certificate: the proof that it holds the certificate's key.
func (c *Client) certificateVerify(body, transcriptHash []byte) error {
	p := parser{b: body}
	scheme := p.u16()
	sig := p.vec16()
	if !p.done() {
		return fault(ErrBadHandshake, "malformed CertificateVerify")
	}
	signed := make([]byte, 0, 64+34+len(transcriptHash))
	for range 64 {
		signed = append(signed, ' ')
	}
	signed = append(append(append(signed, "TLS 1.3, server CertificateVerify"...), 0), transcriptHash...)
	switch err := verify(c.res.Cert.PublicKey, scheme, signed, sig, true); err {
	case nil:
		c.res.Proof, c.res.ProofBy = scheme, msgCertificateVerify
		c.trace(1, "CertificateVerify (%s) verified with the certificate's key", SchemeName(scheme))
	case errNotChecked:
		c.trace(1, "CertificateVerify (%s) not checked", SchemeName(scheme))
	default:
		return fault(ErrKeyMismatch, "CertificateVerify (%s) %v", SchemeName(scheme), err)
	}
	return nil
}
