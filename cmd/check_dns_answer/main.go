// Command check_dns_answer checks that a DNS server answers a question with an
// accepted rcode (and, when asked, the expected records), for load
// balancers and monitoring systems.
package main

import (
	"context"
	"io"
	"os"

	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe/dns"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

// spec is the check as this binary has it: without the parts that a
// plain call never uses and every call would pay for at start-up (TLS,
// and miekg/dns for --dnssec, which links all of crypto; --expect is the
// binary's own). A command line that needs them is run by lbcheck
// (internal/plugin). The tests run the check with every part
// (internal/checks) in process, and this binary, handing over, as a
// process.
var spec = dns.Spec

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return plugin.Run(ctx, spec, args, stdout, stderr)
}
