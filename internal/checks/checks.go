// Package checks is the suite with every part linked: the five checks as
// lbcheck and the daemon run them. The check binaries leave out what most
// of their calls never use (crypto/tls and x509, regexp, crypto/md5) and
// hand a command line that needs it to lbcheck; here nothing is left out.
package checks

import (
	"crypto/md5"
	"regexp"

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

// DNS is check_dns_answer with --tls, --expect and --dnssec.
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
