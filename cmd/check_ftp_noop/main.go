// Command check_ftp_noop checks that an FTP server greets and answers NOOP,
// for load balancers and monitoring systems.
package main

import (
	"context"
	"io"
	"os"

	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe/ftpnoop"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return plugin.Run(ctx, ftpnoop.Spec, args, stdout, stderr)
}
