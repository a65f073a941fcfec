package check

import (
	"context"

	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// Spec describes one kind of check.
type Spec struct {
	Name     string // label on the first line: "HTTP_STATUS"
	Command  string // the binary's name: "check_http_status"
	Purpose  string // what a passing check proves, one line
	PortHelp string // how PORT defaults, for the help text
	Examples []Example
	// New returns fresh options for one command line.
	New func() Options
}

// Example is one line of the help's examples.
type Example struct{ Command, What string }

// Options are the check's own options and its probe, for one command line.
type Options interface {
	// Flags registers the options.
	Flags(fs *flags.FlagSet)
	// Validate checks them after parsing and prepares what the probe
	// needs; an error is bad usage, reported before anything is sent.
	Validate() error
	// DefaultPort is the port when none is given; 0 makes PORT required.
	DefaultPort() uint16
	// Probe runs one attempt. It must honour ctx on every wait.
	Probe(ctx context.Context, t probe.Target) probe.Result
}

// Commands are the check binaries of the suite, for the man pages' SEE
// ALSO and the packaging tests.
var Commands = []string{"check_tcp_half_open", "check_ssl_hello", "check_dns_answer", "check_ftp_noop", "check_http_status"}
