// Command check_dns_answer checks that a DNS server answers a question with an
// accepted rcode (and, when asked, the expected records), for load
// balancers and monitoring systems.
package main

import (
	"context"
	"io"
	"os"

	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/dns"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &dns.Options{}
	return plugin.Run(ctx, plugin.Spec{
		Name:        "DNS",
		Command:     "check_dns_answer",
		Purpose:     "a DNS server answers a question with an accepted rcode",
		PortHelp:    "PORT defaults to 53, or 853 with --tls.",
		DefaultPort: o.DefaultPort,
		Flags:       o.Flags,
		Validate:    o.Validate,
		Probe: func(ctx context.Context, t probe.Target) probe.Result {
			return dns.Probe(ctx, t, o)
		},
		Examples: []plugin.Example{
			{Command: "check_dns_answer 10.0.0.53", What: "a resolver answers '. A' with NOERROR (keepalived DNS_CHECK's default)"},
			{Command: "check_dns_answer --name www.example.org --expect 192.0.2.10 10.0.0.53", What: "the A records of www.example.org include 192.0.2.10"},
			{Command: "check_dns_answer --norecurse --name example.org --type SOA 10.0.0.53", What: "an authoritative server answers for its zone"},
			{Command: "check_dns_answer --name nothing.example.org --rcode NXDOMAIN 10.0.0.53", What: "NXDOMAIN is the answer wanted"},
			{Command: "check_dns_answer --tcp --type TXT --name example.org --expect 'v=spf1 -all' 10.0.0.53", What: "over TCP; one TXT string must be this"},
			{Command: "check_dns_answer --tls --ca-file /etc/ssl/dot-ca.pem --sni dns.example.org 10.0.0.53", What: "DNS over TLS on 853, certificate verified"},
		},
	}, args, stdout, stderr)
}
