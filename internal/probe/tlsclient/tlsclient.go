// Package tlsclient is the client side of TLS that check_http_status,
// check_dns_answer and check_ftp_noop share: the --verify, --ca-file,
// --sni, --client-cert and --client-key options, checked once before
// anything is sent, and the handshake they ask for.
//
// The options and this package import no crypto: a check binary that does
// not speak TLS on most calls must not pay crypto's start-up on every one.
// The handshake is a TLS implementation given to the options
// (tlsclient/gotls, on Go's crypto/tls); a binary built without one reports
// check.Missing for a command line that needs it, and lbcheck runs it.
package tlsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// Options are the certificate options of a check that can speak TLS.
type Options struct {
	Verify bool   // verify the certificate and the name
	CAFile string // verify against these CAs (implies Verify)
	SNI    string // server name to send and verify
	// ClientCert and ClientKey are the PEM files of the certificate we
	// present when the server asks for one; ClientKey "" means the key is
	// in ClientCert's file.
	ClientCert, ClientKey string

	// TLS does the handshakes; nil in a binary built without crypto/tls.
	TLS TLS

	with   string // the option that turns TLS on, for messages: "--tls"
	sni    bool   // --sni is registered
	client Client // from TLS.Prepare
}

// TLS is an implementation of the client side of TLS.
type TLS interface {
	// Prepare reads what the options name (the --ca-file bundle, the
	// client certificate and key) once, before anything is sent; its
	// error is bad usage, a *FileError where it is about a file.
	Prepare(o *Options) (Client, error)
}

// Client runs handshakes with prepared options.
type Client interface {
	// Handshake runs TLS as a client over conn within ctx. The server name
	// sent and verified is name if given (--vhost), else --sni, else HOST
	// when it is a name; an address sends none, and when verifying the
	// certificate must then carry the address. A failure's error says
	// what the operator can do about it where that is known.
	Handshake(ctx context.Context, conn net.Conn, t probe.Target, name string, alpn ...string) (net.Conn, Info, error)
}

// Info is what a handshake tells about the session, for summaries and the
// -v trace.
type Info struct {
	Version string // "TLS 1.3"
	Cipher  string // "TLS_AES_128_GCM_SHA256"
	// VersionID and CipherID are their numbers on the wire (0x0304,
	// 0x1301), for the daemon's metrics.
	VersionID, CipherID uint16
	// CertSubject and CertExpiry describe the server's certificate, when
	// one was received.
	CertSubject string
	CertExpiry  time.Time
	// EarliestExpiry is the earliest NotAfter of the certificates the
	// server sent, in Unix seconds, 0 for none: the chain's weakest link
	// (blackbox_exporter's probe_ssl_earliest_cert_expiry).
	EarliestExpiry int64
	// LeafDER is the server's certificate as sent; ChainExpiry is over the
	// verified chains the latest of each one's earliest NotAfter (0 when
	// none was verified), as blackbox_exporter's
	// probe_ssl_last_chain_expiry_timestamp_seconds.
	LeafDER     []byte
	ChainExpiry int64
	// CertRequested: the server asked for a client certificate; CertSent:
	// we sent one (--client-cert). They are set even when the handshake
	// failed, since that is often why.
	CertRequested, CertSent bool
	// ClientSubject is the subject of the certificate we sent.
	ClientSubject string
}

// ClientCertTrace is the -v line on the server's request for a client
// certificate, "" when it asked for none.
func (i Info) ClientCertTrace() string {
	switch {
	case i.CertSent:
		return "server asked for a client certificate; sent " + i.ClientSubject
	case i.CertRequested:
		return "server asked for a client certificate; we have none (--client-cert)"
	}
	return ""
}

// What a failure after the server asked for a client certificate is
// likely about. The implementation puts them into its errors.
const (
	CertNone     = "server asked for a client certificate, we sent none"
	CertRejected = "server rejected our client certificate"
)

// NameOption is the option that names the server: --sni, or
// check_http_status's --vhost when --sni is not registered.
func (o *Options) NameOption() string {
	if o.sni {
		return "--sni"
	}
	return "--vhost"
}

// Flags registers --verify and --ca-file, and --sni when sni is true
// (check_http_status names the server with --vhost instead). with is the
// option that turns TLS on, named in help and errors.
func (o *Options) Flags(fs *flags.FlagSet, with string, sni bool) {
	o.with, o.sni = with, sni
	fs.BoolVar(&o.Verify, "verify", false, "with "+with+": verify the certificate against the system roots and the name")
	fs.StringVar(&o.CAFile, "ca-file", "", "with "+with+": verify the certificate against the CAs in this PEM `FILE`")
	if sni {
		fs.StringVar(&o.SNI, "sni", "", "with "+with+": server `NAME` to send and verify; default HOST when it is a name")
	}
	fs.StringVar(&o.ClientCert, "client-cert", "", "with "+with+": present this PEM certificate `FILE` (and chain) when the server asks for one; with its key unless --client-key")
	fs.StringVar(&o.ClientKey, "client-key", "", "with "+with+": the private key of --client-cert, a PEM `FILE` (PKCS#1, PKCS#8 or SEC1; not encrypted)")
}

// Validate refuses the options when TLS is off, and when it is on has the
// implementation read the CA file. Without an implementation it returns
// *check.Missing.
func (o *Options) Validate(on bool) error {
	if (o.Verify || o.CAFile != "" || o.SNI != "") && !on {
		if o.sni {
			return errors.New("--verify, --ca-file and --sni need " + o.with)
		}
		return errors.New("--verify and --ca-file need " + o.with)
	}
	if (o.ClientCert != "" || o.ClientKey != "") && !on {
		return errors.New("--client-cert and --client-key need " + o.with)
	}
	if o.ClientKey != "" && o.ClientCert == "" {
		return errors.New("--client-key needs --client-cert: the certificate it is the key of")
	}
	if !on {
		return nil
	}
	if o.TLS == nil {
		return &check.Missing{Option: o.with}
	}
	if o.CAFile != "" {
		o.Verify = true
	}
	c, err := o.TLS.Prepare(o)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			return err
		}
		return fmt.Errorf("%s: %w", o.with, err)
	}
	o.client = c
	return nil
}

// Handshake runs TLS over conn as the options say (see Client).
func (o *Options) Handshake(ctx context.Context, conn net.Conn, t probe.Target, name string, alpn ...string) (net.Conn, Info, error) {
	if o.client == nil {
		return nil, Info{}, errors.New("tlsclient: Handshake before Validate")
	}
	return o.client.Handshake(ctx, conn, t, name, alpn...)
}
