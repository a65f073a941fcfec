// Package gotls is the TLS of the checks that speak it, on Go's crypto/tls:
// the implementation of tlsclient.TLS that lbcheck and the daemon link and
// the plain check binaries leave out. It offers TLS 1.0 up, as every check
// here: they test liveness, not policy.
package gotls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"strings"

	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
)

// TLS is tlsclient.TLS on crypto/tls.
type TLS struct{}

// Prepare reads --ca-file, if given, into the pool the certificate is
// verified against.
func (TLS) Prepare(o *tlsclient.Options) (tlsclient.Client, error) {
	c := &client{o: o}
	if o.CAFile == "" {
		return c, nil
	}
	pem, err := tlsclient.ReadCAFile(o.CAFile)
	if err != nil {
		return nil, err
	}
	c.roots = x509.NewCertPool()
	if !c.roots.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in it")
	}
	return c, nil
}

type client struct {
	o     *tlsclient.Options
	roots *x509.CertPool
}

// Config is the client configuration for t (see tlsclient.Client for the
// choice of server name).
func (c *client) Config(t probe.Target, name string, alpn ...string) *tls.Config {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS10,
		NextProtos:         alpn,
		InsecureSkipVerify: !c.o.Verify,
		RootCAs:            c.roots,
	}
	switch {
	case name != "":
		cfg.ServerName = name
	case c.o.SNI != "":
		cfg.ServerName = c.o.SNI
	case t.IsName:
		cfg.ServerName = t.Host
	case c.o.Verify:
		cfg.ServerName = t.Addr.Addr().WithZone("").String()
	}
	return cfg
}

func (c *client) Handshake(ctx context.Context, conn net.Conn, t probe.Target, name string, alpn ...string) (net.Conn, tlsclient.Info, error) {
	var info tlsclient.Info
	cfg := c.Config(t, name, alpn...)
	// We have no client certificate and send none, but note that the
	// server asked: it is often why the handshake then fails.
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		info.CertRequested = true
		return &tls.Certificate{}, nil
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, info, Explain(err, c.o.NameOption())
	}
	cs := tc.ConnectionState()
	info.Version, info.Cipher = tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite)
	info.VersionID, info.CipherID = cs.Version, cs.CipherSuite
	if len(cs.PeerCertificates) > 0 {
		cert := cs.PeerCertificates[0]
		info.CertSubject, info.CertExpiry = cert.Subject.String(), cert.NotAfter
	}
	for _, c := range cs.PeerCertificates {
		if t := c.NotAfter.Unix(); info.EarliestExpiry == 0 || t < info.EarliestExpiry {
			info.EarliestExpiry = t
		}
	}
	return tc, info, nil
}

// Explain adds what the operator can do to a handshake error: a
// certificate checked against an address (HOST was one, and no name was
// given) fails for want of the name it was issued for, which option names
// (--vhost or --sni).
func Explain(err error, option string) error {
	var he x509.HostnameError
	if !errors.As(err, &he) {
		return err
	}
	if _, perr := netip.ParseAddr(he.Host); perr != nil {
		return err
	}
	return &nameHint{err: err, text: strings.TrimPrefix(he.Error(), "x509: "), option: option}
}

// nameHint is a certificate name error checked against an address, with
// the option that names the server. Its text leaves out the wrapping
// ("tls: failed to verify certificate: x509: ") so that the hint fits the
// first line.
type nameHint struct {
	err          error
	text, option string
}

func (e *nameHint) Error() string {
	return e.text + "; name the server with " + e.option + " NAME"
}

func (e *nameHint) Unwrap() error { return e.err }
