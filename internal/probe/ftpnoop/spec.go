package ftpnoop

import (
	"context"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
)

// Spec is check_ftp_noop: what it is called, what it proves, and its options.
var Spec = check.Spec{
	Name:     "FTP_NOOP",
	Command:  "check_ftp_noop",
	Purpose:  "an FTP server greets with 220 and answers NOOP",
	PortHelp: "PORT defaults to 21.",
	New:      func() check.Options { return NewOptions(nil) },
	Examples: []check.Example{
		{Command: "check_ftp_noop 10.0.0.5", What: "220 greeting, then NOOP answered 200 (or vsftpd's 530 before login)"},
		{Command: "check_ftp_noop --user anonymous --password probe@ 10.0.0.5", What: "log in first; NOOP must then answer 200"},
		{Command: "check_ftp_noop --auth-tls --ca-file /etc/ssl/ftp-ca.pem --sni ftp.example.org 10.0.0.5", What: "explicit FTPS: AUTH TLS, verified certificate, then NOOP"},
		{Command: "check_ftp_noop --exit-style binary -t 2 10.0.0.5 2121", What: "keepalived MISC_CHECK with misc_dynamic: exit 0 up, 1 down"},
	},
}

// Probe runs one attempt of the check: the probe with these options.
func (o *Options) Probe(ctx context.Context, t probe.Target) probe.Result { return Probe(ctx, t, o) }

// NewOptions returns the options of one command line. tls does --auth-tls;
// cmd/check_ftp_noop has none (lbcheck runs --auth-tls for it).
func NewOptions(tls tlsclient.TLS) *Options {
	o := &Options{}
	o.Client.TLS = tls
	return o
}
