// A liveness check accepts what an old server still signs with: Go 1.25
// stopped accepting SHA-1 signatures in TLS 1.2 by default.

//go:debug tlssha1=1

// Command check_ssl_hello checks that a TLS endpoint answers a ClientHello,
// then ends the handshake with a fatal alert, for load balancers and
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
