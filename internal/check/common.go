package check

import (
	"errors"
	"strconv"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/threshold"
)

// common holds the options every check shares.
type common struct {
	host, port   string
	timeout      seconds
	timeoutState stateValue
	attempts     int
	retryDelay   seconds
	bind         string
	ipv4, ipv6   bool
	mark         string
	warning      rangeValue
	critical     rangeValue
	exitStyle    string
	format       string
	verbose      int
	version      bool
	help         bool
	man          bool
}

// CommonNames are the long names of the shared options, in order, for help
// and the man page, which list them apart from a check's own.
var CommonNames = []string{"host", "port", "timeout", "timeout-state", "attempts", "retry-delay", "bind",
	"ipv4", "ipv6", "mark", "warning", "critical", "exit-style", "format", "verbose", "version", "help", "man"}

func (c *common) register(fs *flags.FlagSet) {
	c.timeout = seconds(5 * time.Second)
	c.timeoutState = stateValue(exitcode.Critical)
	c.retryDelay = seconds(time.Second)
	fs.StringVarP(&c.host, "host", "H", "", "`HOST` to check: IP address or name (or give HOST as an argument)")
	fs.StringVarP(&c.port, "port", "p", "", "`PORT` to check (or give PORT as an argument)")
	fs.VarP(&c.timeout, "timeout", "t", "hard deadline in seconds for the whole run, all attempts included; fractions allowed")
	fs.Var(&c.timeoutState, "timeout-state", "state to report when the deadline hits: ok, warning, critical, unknown")
	fs.IntVar(&c.attempts, "attempts", 1, "`N` tries before giving up; the first success wins (keepalived's retry)")
	fs.Var(&c.retryDelay, "retry-delay", "seconds to pause between tries (keepalived's delay_before_retry)")
	fs.StringVarP(&c.bind, "bind", "b", "", "source `ADDR` for the probe (keepalived's bind_to)")
	fs.BoolVarP(&c.ipv4, "ipv4", "4", false, "resolve HOST to IPv4 only")
	fs.BoolVarP(&c.ipv6, "ipv6", "6", false, "resolve HOST to IPv6 only")
	fs.StringVar(&c.mark, "mark", "", "firewall mark `N` (SO_MARK) on every socket, decimal or 0x hex; default $MARK (Farmguardian)")
	fs.VarP(&c.warning, "warning", "w", "response time in seconds that gives WARNING, as a Nagios range (0.5, ~:0.5, @0.1:0.2)")
	fs.VarP(&c.critical, "critical", "c", "response time in seconds that gives CRITICAL, as a Nagios range")
	fs.StringVar(&c.exitStyle, "exit-style", "nagios", "exit code `STYLE`: nagios 0/1/2/3; binary 0 for OK, 1 otherwise (keepalived misc_dynamic)")
	fs.StringVar(&c.format, "format", "text", "output `FORMAT`: text, one Nagios line; json, one JSON object")
	fs.CountVarP(&c.verbose, "verbose", "v", "protocol trace after the first line; repeat for more")
	fs.BoolVarP(&c.version, "version", "V", false, "print the version and exit")
	fs.BoolVarP(&c.help, "help", "h", false, "print this help and exit")
	// For the build (make man), not for users: hidden from --help.
	fs.BoolVar(&c.man, "man", false, "print the man page source (roff) and exit")
	fs.MarkHidden("man")
}

// seconds is a duration given as a (fractional) number of seconds.
type seconds time.Duration

func (s *seconds) String() string {
	return strconv.FormatFloat(time.Duration(*s).Seconds(), 'f', -1, 64)
}
func (s *seconds) Type() string { return "SEC" }
func (s *seconds) Set(v string) error {
	f, ok := threshold.Number(v)
	if !ok || f < 0 || f > 86400 {
		return errors.New("want a number of seconds from 0 to 86400, e.g. 5 or 0.25")
	}
	*s = seconds(time.Duration(f * float64(time.Second)))
	return nil
}

type stateValue exitcode.State

func (s *stateValue) String() string {
	switch exitcode.State(*s) {
	case exitcode.OK:
		return "ok"
	case exitcode.Warning:
		return "warning"
	case exitcode.Critical:
		return "critical"
	}
	return "unknown"
}
func (s *stateValue) Type() string { return "STATE" }
func (s *stateValue) Set(v string) error {
	st, err := exitcode.ParseState(v)
	*s = stateValue(st)
	return err
}

// rangeValue is an optional Nagios range.
type rangeValue struct{ r *threshold.Range }

func (v *rangeValue) String() string {
	if v.r == nil {
		return ""
	}
	return v.r.String()
}
func (v *rangeValue) Type() string { return "RANGE" }
func (v *rangeValue) Set(s string) error {
	r, err := threshold.Parse(s)
	if err != nil {
		return err
	}
	v.r = &r
	return nil
}
