package plugin

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// help is the --help text: usage, the check's options, the common ones,
// examples and the exit codes.
func help(spec *Spec, fs *pflag.FlagSet) string {
	// The common options are listed after the check's own.
	ownFlags, sharedFlags := splitFlags(fs)
	own := pflag.NewFlagSet("", pflag.ContinueOnError)
	shared := pflag.NewFlagSet("", pflag.ContinueOnError)
	own.SortFlags, shared.SortFlags = false, false
	for _, f := range ownFlags {
		own.AddFlag(f)
	}
	for _, f := range sharedFlags {
		shared.AddFlag(f)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s - %s\n\nUsage:\n", spec.Command, spec.Purpose)
	port := "[PORT]"
	if spec.DefaultPort == nil {
		port = "PORT"
	}
	fmt.Fprintf(&b, "  %s [options] HOST %s\n", spec.Command, port)
	fmt.Fprintf(&b, "  %s [options] -H HOST [-p PORT]\n", spec.Command)
	fmt.Fprintf(&b, "  %s [options] PROXY_ADDR PROXY_PORT SERVER_ADDR SERVER_PORT   (HAProxy external-check)\n\n", spec.Command)
	b.WriteString("HOST is an IPv4 or IPv6 address (brackets optional) or a name, resolved once.\n")
	if spec.PortHelp != "" {
		b.WriteString(spec.PortHelp + "\n")
	}
	if own.HasFlags() {
		fmt.Fprintf(&b, "\nCheck options:\n%s", own.FlagUsages())
	}
	fmt.Fprintf(&b, "\nCommon options:\n%s", shared.FlagUsages())
	if len(spec.Examples) > 0 {
		b.WriteString("\nExamples:\n")
		for _, e := range spec.Examples {
			fmt.Fprintf(&b, "  %s\n      %s\n", e.Command, e.What)
		}
	}
	b.WriteString("\nExit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; with --exit-style binary, 0 OK and 1 otherwise.\n")
	b.WriteString("Output: NAME STATE - summary | perfdata, on one line; -v adds a trace below it.\n")
	return b.String()
}
