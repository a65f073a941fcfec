// Command check_tcp_half_open checks that a TCP port accepts connections
// without ever opening one: SYN, SYN+ACK, RST. The application behind the
// port sees nothing, so it logs nothing.
package main

import (
	"context"
	"io"
	"os"

	lbcheck "github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

// dropCaps drops every capability once the raw socket is open. Tests that
// call run in their own process turn it off: they open raw sockets again.
var dropCaps = true

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	spec := halfopen.Spec
	spec.New = func() lbcheck.Options { return &halfopen.Options{Prober: &halfopen.Prober{DropCaps: dropCaps}} }
	return plugin.Run(ctx, spec, args, stdout, stderr)
}
