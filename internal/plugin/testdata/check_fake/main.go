// Command check_fake is a check binary around a probe that does what its
// --mode says, for the process tests of internal/plugin: what a caller
// sees of the process when a probe misbehaves or stdout does.
package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/lbcheck/lbcheck/internal/check/checktest"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var mode string
	f := checktest.New(func(ctx context.Context, _ probe.Target) probe.Result {
		switch mode {
		case "stuck": // ignores its context entirely
			select {}
		case "wait": // waits for the peer until the context ends
			<-ctx.Done()
			return probe.Fail("waiting for the peer", ctx.Err())
		case "slow": // answers after a while
			time.Sleep(100 * time.Millisecond)
		}
		return probe.OK("answered")
	})
	f.Flags = func(fs *flags.FlagSet) { fs.StringVar(&mode, "mode", "ok", "ok, slow, wait or stuck") }
	return plugin.Run(ctx, f.Spec, args, stdout, stderr)
}
