// Package probe holds what every check's probe shares: the target it is
// given, the Result it returns, the trace it writes for -v, and how a
// network error becomes a verdict.
//
// A probe is a function func(ctx, Target, Options) Result in a package of
// its own under internal/probe. It honours ctx on every dial, read and
// write; the harness in internal/plugin owns everything else (arguments,
// attempts, the deadline, thresholds, output, exit codes).
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe/proxyproto"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// Target is what a probe checks and how it opens sockets.
type Target struct {
	Host   string          // HOST as given: a name or a literal
	IsName bool            // HOST was a DNS name (SNI, Host header)
	Addr   netip.AddrPort  // the resolved address to check
	Socket sockopt.Options // bind address and mark for every socket
	Log    *Log            // the -v trace; never nil inside a probe
	// Proxy is the PROXY protocol header every connection begins with
	// (--proxy-protocol); a check that takes the option sets it.
	Proxy proxyproto.Version
}

// Dial opens a TCP connection to the target with the socket options,
// sending the PROXY header first when one is asked for.
func (t Target) Dial(ctx context.Context) (net.Conn, error) {
	c, err := t.Socket.DialTCP(ctx, t.Addr)
	if err != nil || t.Proxy == proxyproto.None {
		return c, err
	}
	return t.withProxy(c)
}

// DialUDP "connects" a UDP socket to the target with the socket options;
// with a PROXY header, every datagram begins with it.
func (t Target) DialUDP(ctx context.Context) (net.Conn, error) {
	c, err := t.Socket.DialUDP(ctx, t.Addr)
	if err != nil || t.Proxy == proxyproto.None {
		return c, err
	}
	return t.withProxy(c)
}

func (t Target) withProxy(c net.Conn) (net.Conn, error) {
	pc, err := proxyproto.Wrap(c, t.Proxy)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %v", sockopt.ErrSetup, err)
	}
	if t.Log.Enabled(1) {
		src, dst, dgram := proxyproto.Endpoints(c)
		t.Log.Printf(1, "PROXY protocol header %s", proxyproto.Describe(t.Proxy, dgram, src, dst))
	}
	return pc, nil
}

// Phase is one timed step of a probe: connect, tls, first byte, ...
type Phase struct {
	Name     string
	Duration time.Duration
}

// Metric is an extra performance value beyond the response time.
type Metric struct {
	Label string
	Value float64
	Unit  string // "", "s", "B", ...
	// Warn and Crit are the metric's own alert ranges in the Nagios
	// guideline syntax ("60:" alerts below 60), empty for none.
	Warn, Crit string
	Min        *float64
	Max        *float64
}

// Result is a probe's verdict.
type Result struct {
	State   exitcode.State
	Summary string
	Phases  []Phase
	Metrics []Metric
	// Timeout is set when the probe ran out of time; the harness then
	// reports --timeout-state instead of State.
	Timeout bool
	// Took is the response time the summary states ("in 1.21 ms"), when
	// it states one: the harness then reports and grades it as the check's
	// time, so the line never shows two values of one thing. Zero: the
	// harness times the attempt itself.
	Took time.Duration
	// Err is the underlying failure, for JSON output and tests.
	Err error
	// Facts are what the probe learned on the way, as numbers, for the
	// daemon's metrics. The binaries print none of them.
	Facts Facts
}

// Facts are numbers a probe read from the peer that its summary names in
// words: lbcheckd exports them as the series blackbox_exporter's users
// graph (probe_http_status_code, probe_ssl_earliest_cert_expiry,
// probe_dns_answer_rrs, ...). Plain values: setting them allocates nothing.
// A zero value means the probe did not get that far.
type Facts struct {
	HTTPStatus int    // the final response's status code
	TLSVersion uint16 // the version the server chose (tls.VersionTLS12, ...)
	TLSCipher  uint16 // the cipher suite it chose
	// CertExpiry is the earliest NotAfter of the certificates the server
	// sent, in Unix seconds.
	CertExpiry int64
	// DNSReply is set when a reply to the question was judged; the rcode
	// and the section counts are then its own.
	DNSReply                               bool
	DNSRcode                               int
	DNSAnswer, DNSAuthority, DNSAdditional int
	// DNSSOAReply: the question was for SOA and a reply came; DNSSerial is
	// then its answer's SOA serial (0 when it held none).
	DNSSOAReply bool
	DNSSerial   uint32

	// HTTPVersion is the answer's protocol version in tenths: 11 for
	// HTTP/1.1, 0 when no answer came.
	HTTPVersion int
	// HTTPContentLength is the answer's Content-Length header, -1 when it
	// has none (chunked, or until close); HTTPBodyBytes the bytes of body
	// read (or, when the check needed none, what the header promised).
	HTTPContentLength, HTTPBodyBytes int64
	// HTTPLastModified is the Last-Modified header as sent, unparsed: the
	// check binaries never need it as a time.
	HTTPLastModified string
	// RegexFailed: the answer's body did not match --body-regex.
	RegexFailed bool

	// CertDER is the server's leaf certificate as sent (DER), for the
	// daemon's probe_ssl_last_chain_info; the probe keeps it anyway, so
	// pointing at it costs nothing.
	CertDER []byte
	// ChainExpiry is, over the chains verification built, each chain's
	// earliest NotAfter, the latest of them (Unix seconds); 0 when no
	// chain was verified (no --verify).
	ChainExpiry int64
}

// OK builds a passing result.
func OK(format string, a ...any) Result {
	return Result{State: exitcode.OK, Summary: fmt.Sprintf(format, a...)}
}

// Critical builds a failing result that has no error behind it (a wrong
// answer rather than no answer).
func Critical(format string, a ...any) Result {
	return Result{State: exitcode.Critical, Summary: fmt.Sprintf(format, a...)}
}

// Fail turns an error met while doing what is named into a verdict:
// running out of time is a timeout, a socket that could not be set up as
// asked is UNKNOWN, and anything the network or the peer did is CRITICAL.
func Fail(what string, err error) Result {
	r := Result{State: exitcode.Critical, Err: err}
	switch {
	case IsTimeout(err):
		r.Timeout = true
		r.Summary = what + ": timed out"
	case errors.Is(err, sockopt.ErrSetup):
		r.State = exitcode.Unknown
		r.Summary = what + ": " + err.Error()
	default:
		r.Summary = what + ": " + Describe(err)
	}
	return r
}

// IsTimeout reports whether err means time ran out (the context's deadline
// or a socket deadline derived from it), or the run was cancelled.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, context.Canceled) || (errors.As(err, &ne) && ne.Timeout())
}

// Describe says in a few words what the network did, for a summary line.
// Well-known errnos read as the operator knows them; anything else keeps
// its own text without Go's "dial tcp a->b:" prefixes.
func Describe(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return "no error"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by peer"
	case errors.As(err, &errno):
		if s, ok := errnoText(errno); ok {
			return s
		}
		return errno.Error()
	}
	text := err.Error()
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		text = op.Err.Error()
	}
	// Library errors may quote what the peer sent.
	return Clean(text, 120)
}

// Clean makes text fit one Nagios line: printable ASCII only, no '|',
// at most max bytes.
func Clean(s string, max int) string {
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(b) < max; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f && c != '|' {
			b = append(b, c)
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}

// errnoText names the errnos a probe meets, as an operator knows them.
// A switch, not a map: a map literal is built at init, on every call.
func errnoText(e syscall.Errno) (string, bool) {
	switch e {
	case syscall.ECONNREFUSED:
		return "connection refused", true
	case syscall.ECONNRESET:
		return "connection reset by peer", true
	case syscall.EHOSTUNREACH:
		return "host unreachable (ICMP)", true
	case syscall.ENETUNREACH:
		return "network unreachable", true
	case syscall.ETIMEDOUT:
		return "timed out", true
	case syscall.EPIPE:
		return "connection closed by peer", true
	// Linux reports ICMPv6 "administratively prohibited" to connect() as EACCES.
	case syscall.EACCES:
		return "administratively prohibited (ICMP)", true
	// EPERM on connect() is a local firewall rejecting our own packet.
	case syscall.EPERM:
		return "operation not permitted (local firewall?)", true
	case syscall.EADDRNOTAVAIL:
		return "address not available", true
	}
	return "", false
}

// Log collects the -v trace. It is safe for concurrent use and keeps its
// lines even if the probe never returns, so a timeout still shows how far
// the probe got.
type Log struct {
	level int
	start time.Time
	mu    sync.Mutex
	lines []string
}

// NewLog starts a trace at verbosity level (0 records nothing).
func NewLog(level int) *Log { return &Log{level: level, start: time.Now()} }

// Enabled reports whether lines at this level are recorded.
func (l *Log) Enabled(level int) bool { return l != nil && level <= l.level }

// Printf records one trace line at the given level (1 = -v, 2 = -vv, ...),
// stamped with the time since the run began.
func (l *Log) Printf(level int, format string, a ...any) {
	if !l.Enabled(level) {
		return
	}
	line := fmt.Sprintf("[%8.3f ms] ", float64(time.Since(l.start).Microseconds())/1000) + fmt.Sprintf(format, a...)
	l.mu.Lock()
	l.lines = append(l.lines, strings.Map(traceClean, strings.ToValidUTF8(line, "?")))
	l.mu.Unlock()
}

// traceClean keeps peer bytes in a trace line from acting on a terminal
// or splitting the line.
func traceClean(r rune) rune {
	if (r < 0x20 && r != '\t') || r == 0x7f {
		return '?'
	}
	return r
}

// Lines returns a copy of the trace so far.
func (l *Log) Lines() []string {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// Quote renders bytes from the peer safely for one line of output:
// printable ASCII as is, everything else escaped, at most max bytes.
func Quote(b []byte, max int) string {
	cut := len(b) > max
	if cut {
		b = b[:max]
	}
	var s strings.Builder
	s.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c == '\r':
			s.WriteString(`\r`)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '|':
			// Nagios splits the first line at '|': keep peer text out of perfdata.
			s.WriteString(`\x7c`)
		case c >= 0x20 && c < 0x7f:
			s.WriteByte(c)
		default:
			fmt.Fprintf(&s, `\x%02x`, c)
		}
	}
	s.WriteByte('"')
	if cut {
		s.WriteString("...")
	}
	return s.String()
}

// Millis formats a duration for a summary line: "0.41 ms", "12.3 ms", "1.20 s".
func Millis(d time.Duration) string {
	var b [32]byte
	return string(AppendMillis(b[:0], d))
}

// AppendMillis appends Millis(d) to b: a sweep words thousands of
// summaries a second, each with one allocation.
func AppendMillis(b []byte, d time.Duration) []byte {
	ms := float64(d.Microseconds()) / 1000
	switch {
	case ms < 10:
		return append(strconv.AppendFloat(b, ms, 'f', 2, 64), " ms"...)
	case ms < 1000:
		return append(strconv.AppendFloat(b, ms, 'f', 1, 64), " ms"...)
	}
	return append(strconv.AppendFloat(b, ms/1000, 'f', 2, 64), " s"...)
}
