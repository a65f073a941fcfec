// Command check_http_status checks that an HTTP(S) endpoint answers with an
// expected status, for load balancers and monitoring systems.
package main

import (
	"context"
	"io"
	"os"

	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe/httpstatus"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return plugin.Run(ctx, httpstatus.Spec, args, stdout, stderr)
}
