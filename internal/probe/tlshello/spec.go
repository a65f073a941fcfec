package tlshello

import (
	"context"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// Spec is check_ssl_hello: what it is called, what it proves, and its options.
var Spec = check.Spec{
	Name:     "SSL_HELLO",
	Command:  "check_ssl_hello",
	Purpose:  "a TLS endpoint answers a ClientHello (the handshake is then left with a close_notify)",
	PortHelp: "PORT defaults to 443.",
	New:      func() check.Options { return &Options{} },
	Examples: []check.Example{
		{Command: "check_ssl_hello 10.0.0.5", What: "any TLS 1.0-1.3 server on 443 answering a ClientHello is OK"},
		{Command: "check_ssl_hello --cn www.example.org --cert-days 30,7 10.0.0.5", What: "SNI and name check; WARNING under 30 days left, CRITICAL under 7"},
		{Command: "check_ssl_hello 10.0.0.5 636", What: "LDAPS, or any service that demands client certificates"},
		{Command: "check_ssl_hello --starttls smtp mail.example.org 25", What: "SMTP STARTTLS first (also imap, pop3, ftp, postgres)"},
		{Command: "check_ssl_hello --exit-style binary -t 2 10.0.0.5 443", What: "keepalived MISC_CHECK with misc_dynamic: exit 0 up, 1 down"},
	},
}

// Probe runs one attempt of the check: the probe with these options.
func (o *Options) Probe(ctx context.Context, t probe.Target) probe.Result { return Probe(ctx, t, o) }
