// Command check_ssl_hello checks that a TLS endpoint answers a ClientHello,
// then leaves the handshake with a close_notify, for load balancers and
// monitoring systems.
package main

import (
	"context"
	"io"
	"os"

	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlshello"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &tlshello.Options{}
	return plugin.Run(ctx, plugin.Spec{
		Name:        "SSL_HELLO",
		Command:     "check_ssl_hello",
		Purpose:     "a TLS endpoint answers a ClientHello (the handshake is then left with a close_notify)",
		PortHelp:    "PORT defaults to 443.",
		DefaultPort: o.DefaultPort,
		Flags:       o.Flags,
		Validate:    o.Validate,
		Probe: func(ctx context.Context, t probe.Target) probe.Result {
			return tlshello.Probe(ctx, t, o)
		},
		Examples: []plugin.Example{
			{Command: "check_ssl_hello 10.0.0.5", What: "any TLS 1.0-1.3 server on 443 answering a ClientHello is OK"},
			{Command: "check_ssl_hello --cn www.example.org --cert-days 30,7 10.0.0.5", What: "SNI and name check; WARNING under 30 days left, CRITICAL under 7"},
			{Command: "check_ssl_hello 10.0.0.5 636", What: "LDAPS, or any service that demands client certificates"},
			{Command: "check_ssl_hello --starttls smtp mail.example.org 25", What: "SMTP STARTTLS first (also imap, pop3, ftp, postgres)"},
			{Command: "check_ssl_hello --exit-style binary -t 2 10.0.0.5 443", What: "keepalived MISC_CHECK with misc_dynamic: exit 0 up, 1 down"},
		},
	}, args, stdout, stderr)
}
