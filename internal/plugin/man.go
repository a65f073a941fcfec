package plugin

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/version"
)

// The man page is written by the binary itself (hidden option --man) from
// the flags it parses, so the page and the parser cannot drift apart.
// The build runs it once per binary (make man); nothing reads it at run time.

// manPage is the roff source of the binary's section 1 page.
func manPage(cmd *check.Command) string {
	spec := cmd.Spec
	own, shared := splitFlags(cmd.Flags)
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	w(".TH %s 1 \"\" \"lbcheck %s\" \"lbcheck health checks\"\n", strings.ToUpper(roffEscape(spec.Command)), roffEscape(version.String()))
	w(".SH NAME\n%s \\- %s\n", roffEscape(spec.Command), roffText(spec.Purpose))

	port := "[\\fIPORT\\fR]"
	if cmd.Options.DefaultPort() == 0 {
		port = "\\fIPORT\\fR"
	}
	name := roffEscape(spec.Command)
	w(".SH SYNOPSIS\n")
	w(".B %s\n[\\fIoptions\\fR] \\fIHOST\\fR %s\n.br\n", name, port)
	if cmd.Options.DefaultPort() == 0 {
		w(".B %s\n[\\fIoptions\\fR] \\fB\\-H\\fR \\fIHOST\\fR \\fB\\-p\\fR \\fIPORT\\fR\n.br\n", name)
	} else {
		w(".B %s\n[\\fIoptions\\fR] \\fB\\-H\\fR \\fIHOST\\fR [\\fB\\-p\\fR \\fIPORT\\fR]\n.br\n", name)
	}
	w(".B %s\n[\\fIoptions\\fR] \\fIPROXY_ADDR PROXY_PORT SERVER_ADDR SERVER_PORT\\fR\n", name)

	w(".SH DESCRIPTION\n")
	w("\\fB%s\\fR checks that %s.\n", name, roffText(spec.Purpose))
	w("It prints one line, \\fINAME STATE \\- summary | perfdata\\fR, and exits with the state's code.\n")
	w(".PP\nHOST is an IPv4 or IPv6 address (brackets optional) or a name, resolved once per run; an address is never looked up.\n")
	if spec.PortHelp != "" {
		w("%s\n", roffText(spec.PortHelp))
	}
	w("The third form is the argument vector of HAProxy's \\fBexternal-check\\fR (IPv6 without brackets).\n")
	w(".PP\nThe whole run, all attempts included, ends within \\fB\\-\\-timeout\\fR: the verdict is printed and the process exits even if the peer never answers and the caller never kills it.\n")
	w("SIGTERM, SIGINT and SIGHUP end the run with a verdict too. Nothing is forked, no PATH and no open standard streams are needed.\n")

	w(".SH OPTIONS\n")
	if len(own) > 0 {
		w(".SS Check options\n")
		for _, f := range own {
			manFlag(&b, f)
		}
	}
	w(".SS Common options\n")
	for _, f := range shared {
		manFlag(&b, f)
	}

	w(".SH EXIT STATUS\n")
	w(".TP\n.B 0\nOK\n.TP\n.B 1\nWARNING (a response time threshold), or with \\fB\\-\\-exit\\-style binary\\fR anything but OK\n")
	w(".TP\n.B 2\nCRITICAL: refused, timed out, wrong answer, name not found\n")
	w(".TP\n.B 3\nUNKNOWN: bad arguments, no privilege, no socket; nothing was checked\n")
	w(".PP\nkeepalived's \\fBmisc_dynamic\\fR reads 2 to 255 as \\(lqup\\(rq: use \\fB\\-\\-exit\\-style binary\\fR there.\n")

	w(".SH ENVIRONMENT\n.TP\n.B MARK\nfirewall mark for every socket when \\fB\\-\\-mark\\fR is not given (ZEVENET Farmguardian sets it for l4xnat farms). A binary started with privilege its caller lacks (a file capability, setuid) refuses a mark, from here or \\fB\\-\\-mark\\fR, unless the real user is root: UNKNOWN, nothing sent.\n")

	if len(spec.Examples) > 0 {
		w(".SH EXAMPLES\n")
		for _, e := range spec.Examples {
			w(".TP\n.B %s\n%s\n", roffEscape(e.Command), roffText(e.What))
		}
	}

	w(".SH FILES\n.TP\n.I /usr/share/doc/lbcheck/examples/\n")
	w("Nagios, Icinga 2, HAProxy, keepalived and Farmguardian definitions.\n")

	var others []string
	for _, c := range Commands {
		if c != spec.Command {
			others = append(others, fmt.Sprintf(".BR %s (1)", roffEscape(c)))
		}
	}
	sort.Strings(others)
	if len(others) > 0 {
		w(".SH SEE ALSO\n%s\n", strings.Join(others, ",\n"))
	}
	return b.String()
}

// manFlag writes one option as a tagged paragraph: "-c, --critical RANGE".
func manFlag(b *strings.Builder, f *flags.Flag) {
	varname, usage := flags.UnquoteUsage(f)
	tag := ""
	if f.Shorthand != "" {
		tag = "\\fB\\-" + roffEscape(f.Shorthand) + "\\fR, "
	}
	tag += "\\fB\\-\\-" + roffEscape(f.Name) + "\\fR"
	if varname != "" {
		tag += " \\fI" + roffEscape(varname) + "\\fR"
	}
	fmt.Fprintf(b, ".TP\n%s\n%s", tag, roffText(usage))
	if d := f.DefValue(); showDefault(f, varname, d) {
		fmt.Fprintf(b, " (default: %s)", roffEscape(d))
	}
	b.WriteString("\n")
}

func showDefault(f *flags.Flag, varname, def string) bool {
	if varname == "" {
		return false // bool and count options take no value
	}
	switch def {
	case "", "0", "false", "[]":
		return false
	}
	return true
}

// roffEscape makes s literal text: backslashes and minus signs escaped.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}

// roffText is prose: backslashes escaped, and a line never starts with a
// control character. Hyphens inside words stay hyphens; option names in it
// ("--tls") become minus signs, so they can be copied.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	var b strings.Builder
	for i, word := range strings.Split(s, " ") {
		if i > 0 {
			b.WriteByte(' ')
		}
		if strings.HasPrefix(word, "-") {
			word = strings.ReplaceAll(word, "-", `\-`)
		}
		b.WriteString(word)
	}
	s = strings.ReplaceAll(b.String(), "\n", "\n\\&")
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
