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
	"io"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"syscall"

	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// TLS is tlsclient.TLS on crypto/tls.
type TLS struct{}

// Prepare reads --ca-file, if given, into the pool the certificate is
// verified against, and --client-cert and --client-key into the
// certificate we present.
func (TLS) Prepare(o *tlsclient.Options) (tlsclient.Client, error) {
	c := &client{o: o}
	if o.CAFile != "" {
		pem, err := tlsclient.ReadCAFile(o.CAFile)
		if err != nil {
			return nil, &tlsclient.FileError{Option: "--ca-file", File: o.CAFile, Err: err}
		}
		c.roots = x509.NewCertPool()
		if !c.roots.AppendCertsFromPEM(pem) {
			return nil, &tlsclient.FileError{Option: "--ca-file", File: o.CAFile, Err: errors.New("no PEM certificate in it")}
		}
	}
	if o.ClientCert != "" {
		pair, err := loadPair(o.ClientCert, o.ClientKey)
		if err != nil {
			return nil, err
		}
		c.cert = &pair
	}
	return c, nil
}

type client struct {
	o     *tlsclient.Options
	roots *x509.CertPool
	cert  *tls.Certificate // --client-cert; nil for none
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
	// Note that the server asked: it is often why the handshake then
	// fails. Our certificate goes whatever CAs the server names: with
	// tls.Config.Certificates Go would send none to a server that names
	// others, and the server's refusal says more than our silence.
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		info.CertRequested = true
		if c.cert == nil {
			return &tls.Certificate{}, nil
		}
		info.CertSent = true
		info.ClientSubject = c.cert.Leaf.Subject.String()
		return c.cert, nil
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, info, certNote(info, Explain(err, c.o.NameOption()))
	}
	cs := tc.ConnectionState()
	info.Version, info.Cipher = tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite)
	info.VersionID, info.CipherID = cs.Version, cs.CipherSuite
	if len(cs.PeerCertificates) > 0 {
		cert := cs.PeerCertificates[0]
		info.CertSubject, info.CertExpiry = cert.Subject.String(), cert.NotAfter
		info.LeafDER = cert.Raw
	}
	for _, chain := range cs.VerifiedChains {
		var earliest int64
		for i, c := range chain {
			if t := c.NotAfter.Unix(); i == 0 || t < earliest {
				earliest = t
			}
		}
		if len(chain) > 0 && (info.ChainExpiry == 0 || earliest > info.ChainExpiry) {
			info.ChainExpiry = earliest
		}
	}
	for _, c := range cs.PeerCertificates {
		if t := c.NotAfter.Unix(); info.EarliestExpiry == 0 || t < info.EarliestExpiry {
			info.EarliestExpiry = t
		}
	}
	// Only a TLS 1.3 server judges our certificate after our handshake
	// has ended; a TLS 1.2 handshake that ended took what we sent.
	if info.CertRequested && cs.Version == tls.VersionTLS13 {
		return &noted{Conn: tc, info: info}, info, nil
	}
	return tc, info, nil
}

// certNote says what the server's request for a client certificate likely
// had to do with err: without one, a server that demands it ends a TLS 1.2
// handshake with a bare handshake_failure and fails a TLS 1.3 connection
// at the first read (the client's handshake ends before the server has
// judged); with one, its alert names the reason. A timeout is not the
// certificate's doing, nor is an error that is not an alert after we sent
// one, nor our own verification of the server's certificate failing
// (under TLS 1.3 the server's request comes before its certificate), nor
// a cancelled run or a socket we could not set up.
func certNote(info tlsclient.Info, err error) error {
	switch {
	case !info.CertRequested || probe.IsTimeout(err) || ourVerification(err):
		return err
	case errors.Is(err, context.Canceled) || errors.Is(err, sockopt.ErrSetup):
		// Could not check: the caller compares these (noteError does not
		// unwrap), and the server had no part in them.
		return err
	case !info.CertSent:
		return &noteError{note: tlsclient.CertNone, err: err}
	case certAlert(err):
		return &noteError{note: tlsclient.CertRejected, err: err}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		// BIND's DNS over TLS closes the connection without an alert.
		return &noteError{note: closedAfterCert, err: err, after: true}
	}
	return err
}

// ourVerification reports whether err is our own verification of the
// server's certificate failing.
func ourVerification(err error) bool {
	var (
		ve *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
		sr x509.SystemRootsError
	)
	return errors.As(err, &ve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &sr)
}

// closedAfterCert follows a closed connection that had taken our
// certificate: likely the server's refusal, but it did not say so.
const closedAfterCert = "after our client certificate (rejected?)"

// certAlert reports whether err is an alert from the peer that refuses a
// certificate.
func certAlert(err error) bool {
	// crypto/tls returns a received alert as a *net.OpError "remote
	// error" around its unexported alert type, a uint8.
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" {
		return false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 {
		return false
	}
	switch v.Uint() {
	case 40, // handshake_failure
		42, 43, 44, 45, 46, // bad, unsupported, revoked, expired, unknown certificate
		48, 49, // unknown_ca, access_denied
		51,  // decrypt_error: our CertificateVerify
		116: // certificate_required
		return true
	}
	return false
}

// noteError is err with what it likely means first. Its text carries the
// error as a summary line shows it (probe.Describe), and it does not
// unwrap to a *net.OpError, whose text alone Describe would keep.
type noteError struct {
	note  string
	err   error
	after bool // the note follows the error
}

func (e *noteError) Error() string {
	if e.after {
		return probe.Describe(e.err) + " " + e.note
	}
	return e.note + ": " + probe.Describe(e.err)
}

// Cause is the error beneath, for tests.
func (e *noteError) Cause() error { return e.err }

// noted is a connection whose server asked for a client certificate: its
// errors carry certNote until the first byte arrives. A TLS 1.3 server
// judges the certificate after our handshake has ended, so its verdict
// arrives as the first read's error; once it sends data, it has accepted.
type noted struct {
	net.Conn
	info tlsclient.Info
	read bool
}

func (n *noted) Read(b []byte) (int, error) {
	k, err := n.Conn.Read(b)
	if k > 0 {
		n.read = true
	}
	if err != nil && !n.read {
		err = certNote(n.info, err)
	}
	return k, err
}

func (n *noted) Write(b []byte) (int, error) {
	k, err := n.Conn.Write(b)
	if err != nil && !n.read {
		err = certNote(n.info, err)
	}
	return k, err
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
