// Package checks names the suite's five checks for the daemon: a module is
// a check binary's command line without HOST and PORT, and its first word
// picks the check. The options are then parsed by the check's own Spec
// (check.ParseModule), so a module and the binary share one vocabulary.
//
// The check binaries never import this package: each links its own probe
// only, and this one links all five.
package checks

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/probe/dns"
	"github.com/lbcheck/lbcheck/internal/probe/ftpnoop"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
	"github.com/lbcheck/lbcheck/internal/probe/httpstatus"
	"github.com/lbcheck/lbcheck/internal/probe/tlshello"
)

// Registry maps a check binary's name to its Spec.
type Registry map[string]check.Spec

// New is the five checks. halfOpen is check_tcp_half_open's Spec as the
// daemon runs it: a module's Command is shared by every request, and
// halfopen.Spec's options keep one raw socket each, which concurrent
// probes must not share; the daemon passes a Spec that is safe for them.
func New(halfOpen check.Spec) Registry {
	return Registry{
		halfopen.Spec.Command:   halfOpen,
		tlshello.Spec.Command:   tlshello.Spec,
		dns.Spec.Command:        dns.Spec,
		ftpnoop.Spec.Command:    ftpnoop.Spec,
		httpstatus.Spec.Command: httpstatus.Spec,
	}
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
