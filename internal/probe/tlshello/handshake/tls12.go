package handshake

import "crypto/x509"

// flight12 reads a TLS <= 1.2 server's flight up to ServerHelloDone, in
// the clear, and checks the ServerKeyExchange signature of an (EC)DHE
// suite with the certificate's key.
func (c *Client) flight12() error {
	c.trace(2, "< ServerHello: %s %s", VersionName(c.res.Version), SuiteName(c.res.Suite))
	var got [256]bool
	for !c.res.Done {
		msg, err := c.readMessage()
		if err != nil {
			return err
		}
		typ, body := msg[0], msg[4:]
		c.seen(typ)
		if got[typ] {
			return c.fail(fault(ErrBadHandshake, "a second %s", MessageName(typ)))
		}
		got[typ] = true
		switch typ {
		case msgCertificate:
			if err := c.certificate12(body); err != nil {
				return c.fail(err)
			}
		case msgServerKeyExchange:
			c.ske = body
		case msgCertificateRequest:
			c.res.CertRequested = true
		case msgCertificateStatus:
		case msgServerHelloDone:
			if len(body) != 0 {
				return c.fail(fault(ErrBadHandshake, "malformed ServerHelloDone"))
			}
			c.res.Done = true
		default:
			return c.fail(fault(ErrBadHandshake, "unexpected %s in the server's %s flight", MessageName(typ), VersionName(c.res.Version)))
		}
	}
	return c.fail(c.keyExchange12())
}

// certificate12 reads a TLS <= 1.2 Certificate message: a list of
// certificates, the server's own first.
func (c *Client) certificate12(body []byte) error {
	p := parser{b: body}
	list := parser{b: p.vec24()}
	if !p.done() {
		return fault(ErrBadHandshake, "malformed Certificate message")
	}
	var leaf []byte
	for len(list.b) > 0 {
		der := list.vec24()
		if list.bad || len(der) == 0 {
			return fault(ErrBadHandshake, "malformed Certificate message")
		}
		if leaf == nil {
			leaf = der
		}
		c.res.Chain++
	}
	return c.parseLeaf(leaf)
}

func (c *Client) parseLeaf(der []byte) error {
	if der == nil {
		return nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fault(ErrCertificate, "certificate does not parse: %v", err)
	}
	c.res.Cert = cert
	return nil
}

// keyExchange12 checks what the ServerKeyExchange proves. Under an
// (EC)DHE suite it is signed over both randoms with the certificate's
// key: a server whose key does not match its certificate fails here. RSA
// and static ECDH key exchange send none: the hello cannot tell.
func (c *Client) keyExchange12() error {
	s := lookupSuite(c.res.Suite)
	if s == nil { // only with Config.Suites naming an id not in the table
		return fault(ErrBadHandshake, "cipher suite %#04x is not one we know", c.res.Suite)
	}
	if s.kx != kxECDHE && s.kx != kxDHE {
		return nil
	}
	if c.ske == nil {
		return fault(ErrBadHandshake, "no ServerKeyExchange for %s", s.name)
	}
	p := parser{b: c.ske}
	if s.kx == kxECDHE {
		if p.u8() != 3 { // named_curve
			return fault(ErrBadHandshake, "ServerKeyExchange with an explicit curve")
		}
		c.res.Group = p.u16()
		if len(p.vec8()) == 0 {
			p.bad = true
		}
	} else {
		p.vec16() // p
		p.vec16() // g
		p.vec16() // Ys
	}
	if p.bad {
		return fault(ErrBadHandshake, "malformed ServerKeyExchange")
	}
	params := c.ske[:len(c.ske)-len(p.b)]
	var scheme uint16
	if c.res.Version >= 0x0303 {
		scheme = p.u16()
	}
	sig := p.vec16()
	if !p.done() {
		return fault(ErrBadHandshake, "malformed ServerKeyExchange signature")
	}
	if c.res.Cert == nil {
		return fault(ErrBadHandshake, "a signed ServerKeyExchange without a certificate")
	}
	if scheme == 0 {
		scheme = legacyScheme(c.res.Cert.PublicKey)
	}
	signed := make([]byte, 0, 64+len(params))
	signed = append(append(append(signed, c.random[:]...), c.serverRandom...), params...)
	if err := verify(c.res.Cert.PublicKey, scheme, signed, sig, false); err != nil {
		if err == errNotChecked {
			c.trace(1, "ServerKeyExchange signature (%s) not checked", SchemeName(scheme))
			return nil
		}
		return fault(ErrKeyMismatch, "ServerKeyExchange signature (%s) %v", SchemeName(scheme), err)
	}
	c.res.Proof, c.res.ProofBy = scheme, msgServerKeyExchange
	c.trace(1, "ServerKeyExchange signature (%s) verified with the certificate's key", SchemeName(scheme))
	return nil
}
