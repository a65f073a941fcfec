// Package checks is the suite with every part linked: the five checks as
// lbcheck and the daemon run them. The check binaries leave out what most
// of their calls never use (crypto/tls and x509, regexp, crypto/md5) and
// hand a command line that needs it to lbcheck; here nothing is left out.
// The check binaries never import this package.
//
// A daemon module is a check binary's command line without HOST and PORT:
// its first word picks the check, whose own Spec then parses the options
// (check.ParseModule), so a module and the binary share one vocabulary.
package checks

import (
	"crypto/md5"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/probe/dns"
	"github.com/lbcheck/lbcheck/internal/probe/dns/dnsrr"
	"github.com/lbcheck/lbcheck/internal/probe/ftpnoop"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
	"github.com/lbcheck/lbcheck/internal/probe/httpstatus"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient/gotls"
	"github.com/lbcheck/lbcheck/internal/probe/tlshello"
	"github.com/lbcheck/lbcheck/internal/version"
)

// HTTPStatus is check_http_status with --tls, --body-regex and --digest.
func HTTPStatus() check.Spec {
	s := httpstatus.Spec
	s.New = func() check.Options {
		return httpstatus.NewOptions(httpstatus.Parts{TLS: gotls.TLS{}, Regexp: compile, MD5: md5.New}, version.Version)
	}
	return s
}

func compile(expr string) (httpstatus.Matcher, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	return re, nil
}

// FTPNoop is check_ftp_noop with --auth-tls.
func FTPNoop() check.Spec {
	s := ftpnoop.Spec
	s.New = func() check.Options { return ftpnoop.NewOptions(gotls.TLS{}) }
	return s
}

// DNS is check_dns_answer with --tls and --dnssec.
func DNS() check.Spec {
	s := dns.Spec
	s.New = func() check.Options { return dns.NewOptions(dns.Parts{TLS: gotls.TLS{}, Records: dnsrr.Records{}}) }
	return s
}

// All is the five checks, in the order of check.Commands. The others link
// everything they need themselves.
func All() []check.Spec {
	return []check.Spec{halfopen.Spec, tlshello.Spec, DNS(), FTPNoop(), HTTPStatus()}
}

// Lookup finds a check by its binary's name: "check_http_status".
func Lookup(command string) (check.Spec, bool) {
	for _, s := range All() {
		if s.Command == command {
			return s, true
		}
	}
	return check.Spec{}, false
}

// Registry maps a check binary's name to its Spec, for the daemon.
type Registry map[string]check.Spec

// New is the five checks for the daemon. halfOpen is check_tcp_half_open's
// Spec as the daemon runs it: a module's Command is shared by every
// request, and halfopen.Spec's options keep one raw socket each, which
// concurrent probes must not share; the daemon passes a Spec that is safe
// for them.
func New(halfOpen check.Spec) Registry {
	r := Registry{}
	for _, s := range All() {
		r[s.Command] = s
	}
	r[halfOpen.Command] = halfOpen
	return r
}

// Module parses a module: argv[0] names the check, the rest are its
// options. Errors are one line and name the check.
func (r Registry) Module(argv []string) (*check.Command, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("empty: want a check's name and its options, e.g. [check_http_status, -u, /health]")
	}
	spec, ok := r[argv[0]]
	if !ok {
		return nil, fmt.Errorf("%s is not a check: want one of %s", strconv.Quote(argv[0]), strings.Join(r.Names(), ", "))
	}
	cmd, err := check.ParseModule(&spec, argv[1:])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", argv[0], err)
	}
	return cmd, nil
}

// Names are the checks' names, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
