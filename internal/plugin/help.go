package plugin

import (
	"slices"
	"strings"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/flags"
)

// splitFlags separates the check's own options from the common ones, each
// in registration order, leaving out hidden ones.
func splitFlags(fs *flags.FlagSet) (own, shared []*flags.Flag) {
	fs.VisitAll(func(f *flags.Flag) {
		switch {
		case f.Hidden:
		case slices.Contains(check.CommonNames, f.Name):
			shared = append(shared, f)
		default:
			own = append(own, f)
		}
	})
	return own, shared
}

// help is the --help text: usage, the check's options, the common ones,
// examples and the exit codes.
func help(cmd *check.Command) string {
	spec := cmd.Spec
	own, shared := splitFlags(cmd.Flags)
	var b strings.Builder
	b.WriteString(spec.Command + " - " + spec.Purpose + "\n\nUsage:\n")
	port := "[PORT]"
	if cmd.Options.DefaultPort() == 0 {
		port = "PORT"
	}
	b.WriteString("  " + spec.Command + " [options] HOST " + port + "\n")
	b.WriteString("  " + spec.Command + " [options] -H HOST " + strings.Replace(port, "PORT", "-p PORT", 1) + "\n")
	b.WriteString("  " + spec.Command + " [options] PROXY_ADDR PROXY_PORT SERVER_ADDR SERVER_PORT   (HAProxy external-check)\n\n")
	b.WriteString("HOST is an IPv4 or IPv6 address (brackets optional) or a name, resolved once.\n")
	if spec.PortHelp != "" {
		b.WriteString(spec.PortHelp + "\n")
	}
	if len(own) > 0 {
		b.WriteString("\nCheck options:\n" + flags.Usages(own))
	}
	b.WriteString("\nCommon options:\n" + flags.Usages(shared))
	if len(spec.Examples) > 0 {
		b.WriteString("\nExamples:\n")
		for _, e := range spec.Examples {
			b.WriteString("  " + e.Command + "\n      " + e.What + "\n")
		}
	}
	b.WriteString("\nExit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; with --exit-style binary, 0 OK and 1 otherwise.\n")
	b.WriteString("Output: NAME STATE - summary | perfdata, on one line; -v adds a trace below it.\n")
	return b.String()
}
