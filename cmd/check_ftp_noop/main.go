// Command check_ftp_noop checks that an FTP server greets and answers NOOP,
// for load balancers and monitoring systems.
package main

import (
	"context"
	"io"
	"os"

	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/ftpnoop"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &ftpnoop.Options{}
	return plugin.Run(ctx, plugin.Spec{
		Name:        "FTP_NOOP",
		Command:     "check_ftp_noop",
		Purpose:     "an FTP server greets with 220 and answers NOOP",
		PortHelp:    "PORT defaults to 21.",
		DefaultPort: o.DefaultPort,
		Flags:       o.Flags,
		Validate:    o.Validate,
		Probe: func(ctx context.Context, t probe.Target) probe.Result {
			return ftpnoop.Probe(ctx, t, o)
		},
		Examples: []plugin.Example{
			{Command: "check_ftp_noop 10.0.0.5", What: "220 greeting, then NOOP answered 200 (or vsftpd's 530 before login)"},
			{Command: "check_ftp_noop --user anonymous --password probe@ 10.0.0.5", What: "log in first; NOOP must then answer 200"},
			{Command: "check_ftp_noop --auth-tls --ca-file /etc/ssl/ftp-ca.pem --sni ftp.example.org 10.0.0.5", What: "explicit FTPS: AUTH TLS, verified certificate, then NOOP"},
			{Command: "check_ftp_noop --exit-style binary -t 2 10.0.0.5 2121", What: "keepalived MISC_CHECK with misc_dynamic: exit 0 up, 1 down"},
		},
	}, args, stdout, stderr)
}
