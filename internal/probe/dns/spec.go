package dns

import (
	"context"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// Spec is check_dns_answer: what it is called, what it proves, and its
// options, without the parts (Parts): a command line that needs one is
// run by lbcheck, whose Spec (internal/checks) has them.
var Spec = check.Spec{
	Name:     "DNS",
	Command:  "check_dns_answer",
	Purpose:  "a DNS server answers a question with an accepted rcode",
	PortHelp: "PORT defaults to 53, or 853 with --tls.",
	New:      func() check.Options { return NewOptions(Parts{}) },
	Examples: []check.Example{
		{Command: "check_dns_answer 10.0.0.53", What: "a resolver answers '. A' with NOERROR (keepalived DNS_CHECK's default)"},
		{Command: "check_dns_answer --name www.example.org --expect 192.0.2.10 10.0.0.53", What: "the A records of www.example.org include 192.0.2.10"},
		{Command: "check_dns_answer --norecurse --name example.org --type SOA 10.0.0.53", What: "an authoritative server answers for its zone"},
		{Command: "check_dns_answer --name nothing.example.org --rcode NXDOMAIN 10.0.0.53", What: "NXDOMAIN is the answer wanted"},
		{Command: "check_dns_answer --tcp --type TXT --name example.org --expect 'v=spf1 -all' 10.0.0.53", What: "over TCP; one TXT string must be this"},
		{Command: "check_dns_answer --tls --ca-file /etc/ssl/dot-ca.pem --sni dns.example.org 10.0.0.53", What: "DNS over TLS on 853, certificate verified"},
	},
}

// Probe runs one attempt of the check: the probe with these options.
func (o *Options) Probe(ctx context.Context, t probe.Target) probe.Result { return Probe(ctx, t, o) }
