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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return plugin.Run(ctx, dns.Spec, args, stdout, stderr)
}
