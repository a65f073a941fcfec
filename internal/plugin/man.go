package plugin

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lbcheck/lbcheck/internal/version"
)

// The man page is written by the binary itself (hidden option --man) from
// the FlagSet it parses, so the page and the parser cannot drift apart.
// The build runs it once per binary (make man); nothing reads it at run time.

// splitFlags separates the check's own options from the common ones, each
// in registration order.
func splitFlags(fs *pflag.FlagSet) (own, shared []*pflag.Flag) {
	isCommon := map[string]bool{}
	probe := pflag.NewFlagSet("", pflag.ContinueOnError)
	(&common{}).register(probe)
	probe.VisitAll(func(f *pflag.Flag) { isCommon[f.Name] = true })
	fs.VisitAll(func(f *pflag.Flag) {
		switch {
		case f.Hidden:
		case isCommon[f.Name]:
			shared = append(shared, f)
		default:
			own = append(own, f)
		}
	})
	return own, shared
}

// manPage is the roff source of the binary's section 1 page.
func manPage(spec *Spec, fs *pflag.FlagSet) string {
	own, shared := splitFlags(fs)
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	w(".TH %s 1 \"\" \"lbcheck %s\" \"lbcheck health checks\"\n", strings.ToUpper(roffEscape(spec.Command)), roffEscape(version.Of(Version)))
	w(".SH NAME\n%s \\- %s\n", roffEscape(spec.Command), roffText(spec.Purpose))

	port := "[\\fIPORT\\fR]"
	if spec.DefaultPort == nil {
		port = "\\fIPORT\\fR"
	}
	cmd := roffEscape(spec.Command)
	w(".SH SYNOPSIS\n")
	w(".B %s\n[\\fIoptions\\fR] \\fIHOST\\fR %s\n.br\n", cmd, port)
	w(".B %s\n[\\fIoptions\\fR] \\fB\\-H\\fR \\fIHOST\\fR [\\fB\\-p\\fR \\fIPORT\\fR]\n.br\n", cmd)
	w(".B %s\n[\\fIoptions\\fR] \\fIPROXY_ADDR PROXY_PORT SERVER_ADDR SERVER_PORT\\fR\n", cmd)

	w(".SH DESCRIPTION\n")
	w("\\fB%s\\fR checks that %s.\n", cmd, roffText(spec.Purpose))
	w("It prints one line, \\fINAME STATE \\- summary | perfdata\\fR, and exits with the state's code.\n")
	w(".PP\nHOST is an IPv4 or IPv6 address (brackets optional) or a name, resolved once per run; an address is never looked up.\n")
	if spec.PortHelp != "" {
		w("%s\n", roffText(spec.PortHelp))
	}
	w("The third form is the argument vector of HAProxy's \\fBexternal-check\\fR (IPv6 without brackets).\n")
	w(".PP\nThe whole run, all attempts included, ends within \\fB\\-\\-timeout\\fR: the verdict is printed and the process exits even if the peer never answers and the caller never kills it.\n")
	w("SIGTERM and SIGINT end the run with a verdict too. Nothing is forked, no PATH and no open standard streams are needed.\n")

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

	w(".SH ENVIRONMENT\n.TP\n.B MARK\nfirewall mark for every socket when \\fB\\-\\-mark\\fR is not given (ZEVENET Farmguardian sets it for l4xnat farms).\n")

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

// Commands are the binaries of the suite, for SEE ALSO.
var Commands = []string{"check_tcp_half_open", "check_ssl_hello", "check_dns_answer", "check_ftp_noop", "check_http_status"}

// manFlag writes one option as a tagged paragraph: "-c, --critical RANGE".
func manFlag(b *strings.Builder, f *pflag.Flag) {
	varname, usage := pflag.UnquoteUsage(f)
	if f.NoOptDefVal != "" {
		varname = "" // bool and count options take no value
	}
	tag := ""
	if f.Shorthand != "" {
		tag = "\\fB\\-" + roffEscape(f.Shorthand) + "\\fR, "
	}
	tag += "\\fB\\-\\-" + roffEscape(f.Name) + "\\fR"
	if varname != "" {
		tag += " \\fI" + roffEscape(varname) + "\\fR"
	}
	fmt.Fprintf(b, ".TP\n%s\n%s", tag, roffText(usage))
	if showDefault(f) {
		fmt.Fprintf(b, " (default: %s)", roffEscape(f.DefValue))
	}
	b.WriteString("\n")
}

func showDefault(f *pflag.Flag) bool {
	if f.NoOptDefVal != "" {
		return false
	}
	switch f.DefValue {
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
