// A liveness check accepts what an old server still signs with: Go 1.25
// stopped accepting SHA-1 signatures in TLS 1.2 by default.

//go:debug tlssha1=1

// Command lbcheck runs any of the five checks with every part linked:
//
//	lbcheck check_http_status --tls --body-regex up 10.0.0.5
//
// The check binaries leave out what most calls never use and every call
// would pay for at start-up (crypto/tls and x509, regexp, crypto/md5);
// given a command line that needs it, a binary execs lbcheck from its own
// directory with the same arguments, in the same process: its caller sees
// one process, one verdict and one exit code. lbcheck also answers for
// itself when called by the name of a check (argv[0]).
package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/plugin"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args, os.Stdout, os.Stderr)) }

// run takes the whole argument vector: the check is named by argv[0] or,
// when that is lbcheck itself, by the first argument.
func run(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	args := argv[1:]
	spec, ok := checks.Lookup(filepath.Base(argv[0]))
	if !ok && len(args) > 0 {
		spec, ok = checks.Lookup(args[0])
		args = args[1:]
	}
	if !ok {
		io.WriteString(stdout, "LBCHECK UNKNOWN - bad argument: name the check first: lbcheck CHECK [options] HOST [PORT], CHECK one of "+
			strings.Join(check.Commands, ", ")+"\n")
		return 3
	}
	return plugin.Run(ctx, spec, args, stdout, stderr)
}
