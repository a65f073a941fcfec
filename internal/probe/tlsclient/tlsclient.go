// Package tlsclient is the client side of TLS that check_http_status,
// check_dns_answer and check_ftp_noop share: the --verify, --ca-file and --sni
// options, checked once before anything is sent, and the tls.Config they
// make. It offers TLS 1.0 up, as every check here: they test liveness,
// not policy.
package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// Options are the certificate options of a check that can speak TLS.
type Options struct {
	Verify bool   // verify the certificate and the name
	CAFile string // verify against these CAs (implies Verify)
	SNI    string // server name to send and verify

	with  string // the option that turns TLS on, for messages: "--tls"
	sni   bool   // --sni is registered
	roots *x509.CertPool
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
}

// Validate refuses the options when TLS is off and reads the CA file.
func (o *Options) Validate(on bool) error {
	if (o.Verify || o.CAFile != "" || o.SNI != "") && !on {
		if o.sni {
			return errors.New("--verify, --ca-file and --sni need " + o.with)
		}
		return errors.New("--verify and --ca-file need " + o.with)
	}
	if o.CAFile == "" {
		return nil
	}
	pem, err := os.ReadFile(o.CAFile)
	if err != nil {
		return fmt.Errorf("--ca-file: %v", err)
	}
	o.roots = x509.NewCertPool()
	if !o.roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("--ca-file %s: no PEM certificate in it", o.CAFile)
	}
	o.Verify = true
	return nil
}

// Config is the client configuration for t. The server name sent and
// verified is name if given (--vhost), else --sni, else HOST when it is
// a name; an address sends none, and when verifying the certificate must
// then carry the address as a SAN.
func (o *Options) Config(t probe.Target, name string, nextProtos ...string) *tls.Config {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS10,
		NextProtos:         nextProtos,
		InsecureSkipVerify: !o.Verify,
		RootCAs:            o.roots,
	}
	switch {
	case name != "":
		cfg.ServerName = name
	case o.SNI != "":
		cfg.ServerName = o.SNI
	case t.IsName:
		cfg.ServerName = t.Host
	case o.Verify:
		cfg.ServerName = t.Addr.Addr().WithZone("").String()
	}
	return cfg
}

// EarliestExpiry is the earliest NotAfter among certs, in Unix seconds; 0
// for none. The chain's weakest link is what expires first
// (blackbox_exporter's probe_ssl_earliest_cert_expiry).
func EarliestExpiry(certs []*x509.Certificate) int64 {
	var earliest int64
	for _, c := range certs {
		if t := c.NotAfter.Unix(); earliest == 0 || t < earliest {
			earliest = t
		}
	}
	return earliest
}
