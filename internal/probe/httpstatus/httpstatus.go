// Package httpstatus is the probe of check_http_status: one HTTP/1.1
// request over a fresh connection, judged by the status code and, when
// asked, by the body.
//
// It replaces keepalived's HTTP_GET and Nagios' check_http for load
// balancer health checks, and fits HAProxy's monitor-uri (200 healthy, 503
// when "monitor fail" holds). The request carries "Connection: close" and
// redirects are never followed: a 301 is an answer to judge, not a hop.
// The response is read from the raw connection with fixed bounds: 64 KiB of
// headers, --max-body of body, and only as much body as a check needs.
package httpstatus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"math"
	"net"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/proxyproto"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
)

// md5Size is the length of an MD5 sum (crypto/md5's Size, which a plain
// binary does not link).
const md5Size = 16

// maxHeaderBytes bounds the status line and headers together.
const maxHeaderBytes = 64 << 10

// maxKeptBody bounds --max-body with --body-regex, whose body is held in
// memory: 16 times the default, far more than a health page.
const maxKeptBody = 16 << 20

// Options are check_http_status's own options.
type Options struct {
	Path      string
	VHost     string
	Expect    StatusSet
	Method    string
	TLS       bool
	Client    tlsclient.Options // --verify, --ca-file
	Headers   []string
	BodyRegex string
	Digest    string
	MaxBody   int64
	Proxy     proxyproto.Version // --proxy-protocol

	expectText string
	header     [][2]string // name, value; in the order given
	bodyRE     Matcher
	userAgent  string
	parts      Parts
}

// Parts are what some options need from packages whose start-up a plain
// HTTP check should not pay on every call: TLS (--tls), regular
// expressions (--body-regex) and MD5 (--digest). cmd/check_http_status has
// none of them, and hands a command line that needs one to lbcheck, which
// has them all (internal/checks).
type Parts struct {
	TLS    tlsclient.TLS
	Regexp func(expr string) (Matcher, error)
	MD5    func() hash.Hash
}

// Matcher is a compiled --body-regex.
type Matcher interface{ Match(b []byte) bool }

// NewOptions returns the options of one command line, with the parts the
// binary has and the User-Agent naming the build.
func NewOptions(p Parts, version string) *Options {
	o := &Options{parts: p}
	o.Client.TLS = p.TLS
	o.SetVersion(version)
	return o
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *flags.FlagSet) {
	fs.StringVarP(&o.Path, "path", "u", "/", "request `PATH`, with query if any")
	fs.StringVar(&o.VHost, "vhost", "", "`NAME` for the Host header and TLS SNI (keepalived's virtualhost); default HOST")
	fs.StringVarP(&o.expectText, "expect", "e", "200-299", "`LIST` of accepted status codes: 200, 200-299, 2xx, 200,301-302")
	fs.StringVar(&o.Method, "method", "GET", "request `METHOD`")
	fs.BoolVar(&o.TLS, "tls", false, "HTTPS; the certificate is not verified unless --verify or --ca-file")
	o.Client.Flags(fs, "--tls", false)
	fs.StringArrayVar(&o.Headers, "header", nil, "extra request `HEADER`, 'Name: value'; repeatable")
	fs.StringVar(&o.BodyRegex, "body-regex", "", "the body (up to --max-body) must match this regular expression `RE` (RE2)")
	fs.StringVar(&o.Digest, "digest", "", "the body's MD5 must be this hex `DIGEST` (keepalived HTTP_GET digest, genhash)")
	proxyproto.Flag(fs, &o.Proxy, "")
	fs.Int64Var(&o.MaxBody, "max-body", 1<<20, "most body `BYTES` read, for --digest, the size and --body-regex (which keeps them: at most 16 MiB)")
}

// DefaultPort is 80, or 443 with --tls.
func (o *Options) DefaultPort() uint16 {
	if o.TLS {
		return 443
	}
	return 80
}

// SetVersion names the build in the User-Agent header.
func (o *Options) SetVersion(v string) { o.userAgent = "lbcheck-check_http_status/" + v }

// Validate checks the options and prepares what the probe needs, so that
// a bad option is reported before anything is sent.
func (o *Options) Validate() error {
	var err error
	if o.Expect, err = ParseStatusSet(o.expectText); err != nil {
		return fmt.Errorf("--expect: %w", err)
	}
	if err := checkPath(o.Path); err != nil {
		return err
	}
	if !isToken(o.Method) {
		return fmt.Errorf("--method %q: not an HTTP method token", o.Method)
	}
	if err := checkVHost(o.VHost); err != nil {
		return err
	}
	o.header = nil
	for _, h := range o.Headers {
		name, value, ok := strings.Cut(h, ":")
		value = strings.TrimSpace(value)
		if !ok || !isToken(name) || strings.ContainsAny(value, "\r\n\x00") {
			return fmt.Errorf("--header %q: want 'Name: value'", h)
		}
		if strings.EqualFold(name, "Host") {
			return fmt.Errorf("--header %q: use --vhost to set the Host header", h)
		}
		o.header = append(o.header, [2]string{textproto.CanonicalMIMEHeaderKey(name), value})
	}
	if o.BodyRegex != "" {
		if o.parts.Regexp == nil {
			return &check.Missing{Option: "--body-regex"}
		}
		if o.bodyRE, err = o.parts.Regexp(o.BodyRegex); err != nil {
			return fmt.Errorf("--body-regex: %v", err)
		}
	}
	if o.Digest != "" {
		if b, err := hex.DecodeString(o.Digest); err != nil || len(b) != md5Size {
			return fmt.Errorf("--digest %q: want 32 hex digits (an MD5)", o.Digest)
		}
		if o.parts.MD5 == nil {
			return &check.Missing{Option: "--digest"}
		}
		o.Digest = strings.ToLower(o.Digest)
	}
	if o.MaxBody < 0 {
		return fmt.Errorf("--max-body %d: want 0 or more bytes", o.MaxBody)
	}
	// --digest and the size stream the body, so any --max-body will do;
	// --body-regex keeps it, so it bounds our memory.
	if o.bodyRE != nil && o.MaxBody > maxKeptBody {
		return fmt.Errorf("--max-body %d with --body-regex: at most %d (%d MiB), the body is kept in memory to be searched", o.MaxBody, maxKeptBody, maxKeptBody>>20)
	}
	if err := o.Client.Validate(o.TLS); err != nil {
		return err
	}
	if o.userAgent == "" {
		o.SetVersion("dev")
	}
	return nil
}

// checkPath is what --path accepts: it goes on the request line as it is.
func checkPath(p string) error {
	if p == "" || p[0] != '/' || strings.ContainsAny(p, " \r\n\x00") {
		return fmt.Errorf("--path %q: want an absolute path such as / or /health?full=1", p)
	}
	if _, err := url.ParseRequestURI(p); err != nil {
		return fmt.Errorf("--path %q: %v", p, err)
	}
	return nil
}

// checkVHost is what --vhost accepts: it goes into the Host header.
func checkVHost(h string) error {
	if h != "" && strings.ContainsAny(h, " /\r\n\x00@") {
		return fmt.Errorf("--vhost %q: want a host name, optionally with :port", h)
	}
	return nil
}

// ErrURLNeedsTLS is ForURL asked for https on options parsed without --tls:
// their TLS client was never prepared.
var ErrURLNeedsTLS = errors.New("an https URL needs options parsed with --tls")

// ForURL is a copy of validated options for lbcheckd's URL targets: TLS on
// for https (the options must have --tls) or off for http, where
// --verify, --ca-file and the client certificate go unused, as blackbox
// ignores tls_config for an http URL; path for --path, and host for
// --vhost unless the command line gave one, checked as --path and --vhost
// are. Nothing is read again: the copy shares the prepared TLS client
// (its CA pool and certificate).
func (o *Options) ForURL(https bool, path, host string) (check.Options, error) {
	if https && !o.TLS {
		return nil, ErrURLNeedsTLS
	}
	c := *o
	c.TLS = https
	c.Path = path
	if c.VHost == "" {
		c.VHost = host
	}
	if err := checkPath(c.Path); err != nil {
		return nil, err
	}
	if err := checkVHost(c.VHost); err != nil {
		return nil, err
	}
	return &c, nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return true
}

// Probe sends one request to t and judges the answer.
func Probe(ctx context.Context, t probe.Target, o *Options) probe.Result {
	t.Proxy = o.Proxy
	p := &run{t: t, o: o, log: t.Log}
	r := p.do(ctx)
	if len(p.phases) > 0 && p.phases[len(p.phases)-1].Name == "first_byte" {
		p.phase("transfer", time.Now())
	}
	r.Phases = p.phases
	r.Facts = p.facts
	return r
}

// run is one probe's state. Its phases are connect, tls, first_byte (from
// sending the request to the first byte of the answer: the server's
// thinking time) and transfer (the rest of the answer that was read).
type run struct {
	t      probe.Target
	o      *Options
	log    *probe.Log
	start  time.Time
	phases []probe.Phase
	mark   time.Time
	facts  probe.Facts
	// certAsked: the server asked for a client certificate; certSent: we
	// sent one (--client-cert).
	certAsked, certSent bool
}

// phase records the time since the previous phase ended.
func (p *run) phase(name string, now time.Time) time.Duration {
	d := now.Sub(p.mark)
	p.mark = now
	p.phases = append(p.phases, probe.Phase{Name: name, Duration: d})
	return d
}

func (p *run) do(ctx context.Context) probe.Result {
	addr := p.t.Addr.String()
	p.start = time.Now()
	p.mark = p.start
	conn, err := p.t.Dial(ctx)
	if err != nil {
		return probe.Fail("connect to "+addr, err)
	}
	defer conn.Close()
	d := p.phase("connect", time.Now())
	if p.log.Enabled(1) {
		p.log.Printf(1, "connected to %s from %s in %s", addr, conn.LocalAddr(), probe.Millis(d))
	}
	return p.exchange(ctx, conn)
}

// exchange is everything after the connection is made: TLS, the request,
// and the judgement of the answer.
func (p *run) exchange(ctx context.Context, conn net.Conn) probe.Result {
	addr := p.t.Addr.String()
	// Bound every read and write by the deadline, and unblock them at once
	// if the run is cancelled (SIGTERM from keepalived or HAProxy).
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()

	if p.o.TLS {
		tc, info, err := p.o.Client.Handshake(ctx, conn, p.t, hostOnly(p.o.VHost), "http/1.1")
		p.certAsked, p.certSent = info.CertRequested, info.CertSent
		if err != nil {
			return p.fail("TLS handshake with "+addr, err)
		}
		p.phase("tls", time.Now())
		p.facts.TLSVersion, p.facts.TLSCipher = info.VersionID, info.CipherID
		p.facts.CertExpiry = info.EarliestExpiry
		p.facts.CertDER, p.facts.ChainExpiry = info.LeafDER, info.ChainExpiry
		p.log.Printf(1, "TLS %s %s", info.Version, info.Cipher)
		if line := info.ClientCertTrace(); line != "" {
			p.log.Printf(1, "%s", line)
		}
		if info.CertSubject != "" {
			p.log.Printf(1, "certificate %s, expires %s", info.CertSubject, info.CertExpiry.UTC().Format(time.DateOnly))
		}
		conn = tc
	}

	req := p.request()
	if _, err := conn.Write(req); err != nil {
		return p.fail("sending request to "+addr, err)
	}

	fb := &firstBytes{r: conn}
	limit := &budget{r: fb, n: maxHeaderBytes}
	br := bufio.NewReaderSize(limit, 4096)
	resp, err := p.readResponse(textproto.NewReader(br))
	if err != nil {
		if fb.err != nil && (probe.IsTimeout(fb.err) || ctx.Err() != nil) {
			// A line cut short by the deadline can read as a whole one
			// that makes no sense: the read error tells.
			err = fb.err
		}
		switch {
		case probe.IsTimeout(err):
			return probe.Fail("waiting for the answer from "+addr, err)
		case limit.n <= 0:
			return probe.Critical("%s sent more than %d KiB of headers", addr, maxHeaderBytes>>10)
		case len(fb.first) == 0:
			return p.fail("reading the answer from "+addr, err)
		case !looksLikeHTTP(fb.first):
			return probe.Critical("not HTTP from %s: %s", addr, probe.Quote(fb.first, 32))
		}
		line, _, _ := bytes.Cut(fb.first, []byte("\n"))
		return probe.Critical("bad HTTP answer from %s: %s", addr, probe.Quote(line, 32))
	}
	p.phase("first_byte", fb.at)
	p.facts.HTTPStatus = resp.code
	// For the daemon's metrics: plain values, no parsing on this path.
	p.facts.HTTPVersion = 10 + int(resp.proto[7]-'0')
	p.facts.HTTPContentLength = resp.bodyLength
	if resp.chunked {
		p.facts.HTTPContentLength = -1
	}
	if resp.code < 200 || resp.code == 204 || resp.code == 304 {
		p.facts.HTTPContentLength = 0 // no body, whatever the header says (as net/http)
	}
	p.facts.HTTPBodyBytes = max(resp.bodyLength, 0)
	if !resp.hasBody(p.o.Method) {
		p.facts.HTTPBodyBytes = 0
	}
	if lm := resp.header["Last-Modified"]; len(lm) > 0 {
		p.facts.HTTPLastModified = lm[0]
	}
	status := strconv.Itoa(resp.code)
	if resp.reason != "" {
		status += " " + probe.Clean(resp.reason, 40)
	}
	if p.log.Enabled(1) {
		p.log.Printf(1, "< %s %s", resp.proto, status)
	}
	if p.log.Enabled(2) {
		for _, name := range slices.Sorted(maps.Keys(resp.header)) {
			for _, v := range resp.header[name] {
				p.log.Printf(2, "< %s: %s", name, v)
			}
		}
	}

	// A redirect's target says more than its code, pass or fail.
	location := ""
	if loc := resp.header.Get("Location"); loc != "" && resp.code/100 == 3 {
		location = " (Location: " + probe.Clean(loc, 60) + ")"
	}
	if !p.o.Expect.Contains(resp.code) {
		// nginx with ssl_verify_client on completes the handshake and
		// answers 400 when no certificate came, or one it does not accept.
		asked := ""
		switch {
		case p.certAsked && !p.certSent:
			asked = " (" + tlsclient.CertNone + ")"
		case p.certSent && resp.code == 400:
			asked = sentCertNote(p.pageTitle(resp, br))
		}
		return p.withSize(probe.Critical("%s from %s, expected %s%s%s", status, addr, p.o.Expect, location, asked), resp.bodyLength)
	}

	// The body is read only when a check needs it, or to learn its size
	// when the headers do not say; never past --max-body.
	size := resp.bodyLength
	if !resp.hasBody(p.o.Method) {
		size = 0
		if p.o.Method == "HEAD" {
			size = resp.bodyLength // what GET would send
		}
	}
	needBody := p.o.bodyRE != nil || p.o.Digest != ""
	sizeNote := "" // "over " when the body was cut at --max-body
	if needBody || (size < 0 && resp.hasBody(p.o.Method)) {
		// The decoded body is cut at --max-body in readBody; the raw stream
		// also carries chunk framing, 5 bytes per byte of data when a
		// server sends one-byte chunks, and trailers (bounded apart, as
		// are chunk lines). Saturating: --max-body may be any int64.
		limit.n = satAdd(satMul(satAdd(p.o.MaxBody, 1), 6), maxTrailerBytes+4096)
		limit.body = limit.n
		length := resp.bodyLength
		if !resp.hasBody(p.o.Method) {
			length = 0
		}
		body, n, digest, err := p.readBody(resp.body(br, p.o.Method), length)
		if p.log.Enabled(1) {
			p.log.Printf(1, "< %d bytes of body", n)
		}
		if err != nil {
			return p.fail(fmt.Sprintf("%s from %s, reading body after %d B", status, addr, n), err)
		}
		size = n
		p.facts.HTTPBodyBytes = n
		truncated := n > p.o.MaxBody
		if truncated {
			size = p.o.MaxBody
			sizeNote = "over "
		}
		if p.o.Digest != "" {
			if truncated {
				return probe.Critical("%s from %s, body longer than --max-body %d B: cannot check --digest", status, addr, p.o.MaxBody)
			}
			if digest != p.o.Digest {
				return p.withSize(probe.Critical("%s from %s, body MD5 %s, expected %s", status, addr, digest, p.o.Digest), size)
			}
		}
		if p.o.bodyRE != nil && !p.o.bodyRE.Match(body) {
			p.facts.RegexFailed = true
			where := ""
			if truncated {
				where = fmt.Sprintf(" in its first %d B (--max-body)", p.o.MaxBody)
			}
			return p.withSize(probe.Critical("%s from %s, body does not match %s%s", status, addr, probe.Quote([]byte(p.o.BodyRegex), 40), where), size)
		}
	}
	sizeText := ""
	if size >= 0 {
		sizeText = ", " + sizeNote + strconv.FormatInt(size, 10) + " B"
	}
	took := time.Since(p.start)
	r := probe.OK("%s from %s%s in %s%s", status, addr, sizeText, probe.Millis(took), location)
	r.Took = took
	return p.withSize(r, size)
}

func (p *run) withSize(r probe.Result, size int64) probe.Result {
	if size >= 0 {
		zero := 0.0
		r.Metrics = append(r.Metrics, probe.Metric{Label: "size", Value: float64(size), Unit: "B", Min: &zero})
	}
	return r
}

// readResponse reads the final response, skipping interim 1xx ones (103
// Early Hints, a stray 100 Continue), at most a few of them.
func (p *run) readResponse(r *textproto.Reader) (*response, error) {
	for i := 0; ; i++ {
		resp, err := readResponse(r)
		if err != nil {
			return nil, err
		}
		if resp.code >= 200 || resp.code == 101 || i == 4 {
			return resp, nil
		}
		p.log.Printf(1, "< %s %d (interim, skipped)", resp.proto, resp.code)
	}
}

// fail is probe.Fail. What a failure had to do with a client certificate
// the server asked for, the TLS implementation puts into its errors
// (tlsclient.CertNone, tlsclient.CertRejected).
func (p *run) fail(what string, err error) probe.Result {
	return probe.Fail(what, err)
}

// sentCertNote is what a 400 says after we sent a client certificate,
// given its page's title: a refusal of the certificate only when the title
// speaks of one (nginx's "The SSL certificate error", "No required SSL
// certificate was sent"). A server that took the certificate may answer
// 400 for anything else, a bad Host or path, with a title of its own.
func sentCertNote(title string) string {
	if strings.Contains(strings.ToLower(title), "certificate") {
		return " (" + tlsclient.CertRejected + ": " + title + ")"
	}
	return " (we sent our client certificate)"
}

// pageTitle is the <title> of the start of an error page, less the status
// code: nginx gives its reason for a 400 there ("400 The SSL certificate
// error", "400 No required SSL certificate was sent"). "" for none. It
// reads at most a KiB of the body, within the deadline.
func (p *run) pageTitle(resp *response, br *bufio.Reader) string {
	if !resp.hasBody(p.o.Method) {
		return ""
	}
	b := make([]byte, 1024)
	n, _ := io.ReadFull(resp.body(br, p.o.Method), b)
	_, t, ok := bytes.Cut(b[:n], []byte("<title>"))
	if !ok {
		return ""
	}
	t, _, ok = bytes.Cut(t, []byte("</title>"))
	if !ok {
		return ""
	}
	t = bytes.TrimSpace(t)
	t = bytes.TrimPrefix(t, []byte(strconv.Itoa(resp.code)+" "))
	return probe.Clean(string(t), 60)
}

// readBody reads the body up to one byte past --max-body, to know whether
// it is longer. length is the Content-Length, or -1. The bytes are kept
// only for the regex, hashed only for the digest, else only counted.
func (p *run) readBody(body io.Reader, length int64) (kept []byte, n int64, digest string, err error) {
	var h hash.Hash
	w := io.Discard
	if p.o.Digest != "" {
		h = p.o.parts.MD5()
		w = h
	}
	want := satAdd(p.o.MaxBody, 1)
	if p.o.bodyRE != nil {
		kept, err = readUpTo(body, want, length)
		n = int64(len(kept))
		w.Write(kept)
		kept = kept[:min(n, p.o.MaxBody)]
	} else {
		n, err = io.Copy(w, io.LimitReader(body, want))
	}
	if h != nil {
		digest = hex.EncodeToString(h.Sum(nil))
	}
	return kept, n, digest, err
}

// smallBody is the first buffer for a body kept for the regex whose
// length is not known (chunked, or ended by close): most health pages fit.
const smallBody = 4 << 10

// readUpTo reads r to its end or to max bytes, into one buffer. A body
// longer than smallBody moves at once to a buffer of max bytes (Validate
// keeps that within maxKeptBody+1): its untouched pages cost nothing,
// where growing step by step would leave a trail of copies for the
// collector (one-byte chunks once peaked at 12 MiB that way).
func readUpTo(r io.Reader, max, length int64) ([]byte, error) {
	size := min(max, smallBody)
	if length >= 0 {
		size = min(max, length)
	}
	b := make([]byte, 0, size)
	for int64(len(b)) < max {
		if len(b) == cap(b) {
			if length >= 0 && int64(len(b)) >= length {
				break // all of it; the reader checks that no less came
			}
			b = slices.Grow(b, int(max)-len(b))
		}
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// satAdd and satMul compute bounds from --max-body (never negative)
// without overflow: 9223372036854775807 means that much, not a negative
// bound that reads a healthy body as empty.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satMul(a, k int64) int64 {
	if a > math.MaxInt64/k {
		return math.MaxInt64
	}
	return a * k
}

// budget reads at most n more bytes from r. Running out of it in the
// headers reads as their end (the caller checks n); in the body, the
// error names the bound, which would otherwise read as the peer closing.
type budget struct {
	r    io.Reader
	n    int64
	body int64 // the bound set for the body; 0 before it
}

func (b *budget) Read(p []byte) (int, error) {
	if b.n <= 0 {
		if b.body > 0 {
			return 0, &limitError{what: "chunked body with its framing", max: b.body}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	return n, err
}

// request is the request's bytes. "Connection: close" because a health
// check makes one request; the server need not keep anything for us.
func (p *run) request() []byte {
	// One buffer, and trace lines only when tracing: boxing their
	// arguments costs allocations on every call otherwise.
	trace := p.log.Enabled(2)
	b := make([]byte, 0, 192)
	line := func(name, value string) {
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, value...)
		b = append(b, "\r\n"...)
		if trace {
			p.log.Printf(2, "> %s: %s", name, value)
		}
	}
	host := p.hostHeader()
	if p.log.Enabled(1) {
		p.log.Printf(1, "> %s %s HTTP/1.1", p.o.Method, p.o.Path)
		p.log.Printf(1, "> Host: %s", host)
	}
	b = append(b, p.o.Method...)
	b = append(b, ' ')
	b = append(b, p.o.Path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	has := func(name string) bool {
		return slices.ContainsFunc(p.o.header, func(h [2]string) bool { return h[0] == name })
	}
	if !has("User-Agent") {
		line("User-Agent", p.o.userAgent)
	}
	if !has("Accept") {
		line("Accept", "*/*")
	}
	for _, h := range p.o.header {
		line(h[0], h[1])
	}
	// Methods that normally carry a body say there is none, or some
	// servers wait for one (or answer 411).
	if (p.o.Method == "POST" || p.o.Method == "PUT" || p.o.Method == "PATCH") && !has("Content-Length") {
		line("Content-Length", "0")
	}
	if !has("Connection") {
		line("Connection", "close")
	}
	return append(b, "\r\n"...)
}

// hostHeader is --vhost, else HOST with the port unless it is the
// scheme's default.
func (p *run) hostHeader() string {
	if p.o.VHost != "" {
		return p.o.VHost
	}
	host := p.t.Host
	port := p.t.Addr.Port()
	if port == p.o.DefaultPort() {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

func looksLikeHTTP(b []byte) bool {
	const prefix = "HTTP/"
	n := min(len(b), len(prefix))
	return string(b[:n]) == prefix[:n]
}

// firstBytes notes when the first byte of the answer arrived, keeps a few
// of them to quote when the answer is not HTTP, and remembers why reading
// stopped.
type firstBytes struct {
	r     io.Reader
	at    time.Time
	first []byte // in buf
	err   error  // the last read error
	buf   [64]byte
}

func (f *firstBytes) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if err != nil {
		f.err = err
	}
	if n > 0 && f.first == nil {
		f.at = time.Now()
		f.first = f.buf[:copy(f.buf[:], b[:n])]
	}
	return n, err
}
