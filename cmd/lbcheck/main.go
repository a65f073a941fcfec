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
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/version"
)

var usage = `Usage: lbcheck CHECK [options] HOST [PORT]

Runs one of the checks with every part linked (TLS, --body-regex, --digest,
--dnssec); the check binaries hand such command lines to it.
CHECK is one of:
  ` + strings.Join(check.Commands, "\n  ") + `
lbcheck CHECK --help describes it.
`

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
		if len(argv) > 1 {
			switch argv[1] {
			case "-h", "--help":
				io.WriteString(stdout, usage)
				return 0
			case "-V", "--version":
				io.WriteString(stdout, "lbcheck "+version.String()+"\n")
				return 0
			}
		}
		why := "name the check first"
		if len(argv) > 1 {
			why = "no check named " + strconv.Quote(argv[1])
		}
		return plugin.UsageError("LBCHECK", "lbcheck", argv[1:], errors.New(why+": lbcheck CHECK [options] HOST [PORT], CHECK one of "+
			strings.Join(check.Commands, ", ")), stdout)
	}
	return plugin.Run(ctx, spec, args, stdout, stderr)
}
