// Command check_ssl_hello checks that a TLS endpoint answers a ClientHello,
// then leaves the handshake with a close_notify, for load balancers and
// monitoring systems.
package main

import (
	"context"
	"io"
	"os"

	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe/tlshello"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return plugin.Run(ctx, tlshello.Spec, args, stdout, stderr)
}
