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

// spec is the check as this binary has it: without the parts that a
// plain call never uses and every call would pay for at start-up. A
// command line that needs them is run by lbcheck (internal/plugin). The
// tests run the check with every part (internal/checks) in process, and
// this binary, handing over, as a process.
var spec = ftpnoop.Spec

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return plugin.Run(ctx, spec, args, stdout, stderr)
}
