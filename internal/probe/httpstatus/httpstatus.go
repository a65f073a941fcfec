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
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"maps"
	"net"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
)

// maxHeaderBytes bounds the status line and headers together.
const maxHeaderBytes = 64 << 10

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

	expectText string
	header     [][2]string // name, value; in the order given
	bodyRE     *regexp.Regexp
	userAgent  string
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
	fs.Int64Var(&o.MaxBody, "max-body", 1<<20, "most body `BYTES` read, for --body-regex, --digest and size")
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
	if o.Path == "" || o.Path[0] != '/' || strings.ContainsAny(o.Path, " \r\n\x00") {
		return fmt.Errorf("--path %q: want an absolute path such as / or /health?full=1", o.Path)
	}
	if _, err := url.ParseRequestURI(o.Path); err != nil {
		return fmt.Errorf("--path %q: %v", o.Path, err)
	}
	if !isToken(o.Method) {
		return fmt.Errorf("--method %q: not an HTTP method token", o.Method)
	}
	if o.VHost != "" && strings.ContainsAny(o.VHost, " /\r\n\x00@") {
		return fmt.Errorf("--vhost %q: want a host name, optionally with :port", o.VHost)
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
		if o.bodyRE, err = regexp.Compile(o.BodyRegex); err != nil {
			return fmt.Errorf("--body-regex: %v", err)
		}
	}
	if o.Digest != "" {
		if b, err := hex.DecodeString(o.Digest); err != nil || len(b) != md5.Size {
			return fmt.Errorf("--digest %q: want 32 hex digits (an MD5)", o.Digest)
		}
		o.Digest = strings.ToLower(o.Digest)
	}
	if o.MaxBody < 0 {
		return fmt.Errorf("--max-body %d: want 0 or more bytes", o.MaxBody)
	}
	if err := o.Client.Validate(o.TLS); err != nil {
		return err
	}
	if o.userAgent == "" {
		o.SetVersion("dev")
	}
	return nil
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
	p.log.Printf(1, "connected to %s from %s in %s", addr, conn.LocalAddr(), probe.Millis(p.phase("connect", time.Now())))
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
		tc := tls.Client(conn, p.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return probe.Fail("TLS handshake with "+addr, err)
		}
		p.phase("tls", time.Now())
		cs := tc.ConnectionState()
		p.facts.TLSVersion, p.facts.TLSCipher = cs.Version, cs.CipherSuite
		p.facts.CertExpiry = tlsclient.EarliestExpiry(cs.PeerCertificates)
		p.log.Printf(1, "TLS %s %s", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite))
		if len(cs.PeerCertificates) > 0 {
			c := cs.PeerCertificates[0]
			p.log.Printf(1, "certificate %s, expires %s", c.Subject, c.NotAfter.UTC().Format(time.DateOnly))
		}
		conn = tc
	}

	req := p.request()
	if _, err := conn.Write(req); err != nil {
		return probe.Fail("sending request to "+addr, err)
	}

	fb := &firstBytes{r: conn}
	limit := &io.LimitedReader{R: fb, N: maxHeaderBytes}
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
		case limit.N <= 0:
			return probe.Critical("%s sent more than %d KiB of headers", addr, maxHeaderBytes>>10)
		case len(fb.first) == 0:
			return probe.Fail("reading the answer from "+addr, err)
		case !looksLikeHTTP(fb.first):
			return probe.Critical("not HTTP from %s: %s", addr, probe.Quote(fb.first, 32))
		}
		line, _, _ := bytes.Cut(fb.first, []byte("\n"))
		return probe.Critical("bad HTTP answer from %s: %s", addr, probe.Quote(line, 32))
	}
	p.phase("first_byte", fb.at)
	p.facts.HTTPStatus = resp.code
	status := strconv.Itoa(resp.code)
	if resp.reason != "" {
		status += " " + probe.Clean(resp.reason, 40)
	}
	p.log.Printf(1, "< %s %s", resp.proto, status)
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
		return p.withSize(probe.Critical("%s from %s, expected %s%s", status, addr, p.o.Expect, location), resp.bodyLength)
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
		// also carries chunk framing, up to 5 bytes per byte of data when
		// a server sends one-byte chunks. Chunk lines are bounded apart.
		limit.N = 6*p.o.MaxBody + maxHeaderBytes
		body, n, digest, err := p.readBody(resp.body(br, p.o.Method))
		p.log.Printf(1, "< %d bytes of body", n)
		if err != nil {
			return probe.Fail(fmt.Sprintf("%s from %s, reading body after %d B", status, addr, n), err)
		}
		size = n
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
			return p.withSize(probe.Critical("%s from %s, body does not match %s", status, addr, probe.Quote([]byte(p.o.BodyRegex), 40)), size)
		}
	}
	sizeText := ""
	if size >= 0 {
		sizeText = ", " + sizeNote + strconv.FormatInt(size, 10) + " B"
	}
	return p.withSize(probe.OK("%s from %s%s in %s%s", status, addr, sizeText, probe.Millis(time.Since(p.start)), location), size)
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

// readBody reads up to MaxBody+1 bytes, keeping them only for the regex,
// and hashing them only for the digest.
func (p *run) readBody(body io.Reader) (kept []byte, n int64, digest string, err error) {
	var h hash.Hash
	w := io.Discard
	if p.o.Digest != "" {
		h = md5.New()
		w = h
	}
	r := io.LimitReader(body, p.o.MaxBody+1)
	if p.o.bodyRE != nil {
		kept, err = io.ReadAll(r)
		n = int64(len(kept))
		w.Write(kept)
		kept = kept[:min(int64(len(kept)), p.o.MaxBody)]
	} else {
		n, err = io.Copy(w, r)
	}
	if h != nil {
		digest = hex.EncodeToString(h.Sum(nil))
	}
	return kept, n, digest, err
}

// request is the request's bytes. "Connection: close" because a health
// check makes one request; the server need not keep anything for us.
func (p *run) request() []byte {
	var b strings.Builder
	line := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
		p.log.Printf(2, "> %s: %s", name, value)
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", p.o.Method, p.o.Path)
	host := p.hostHeader()
	p.log.Printf(1, "> %s %s HTTP/1.1", p.o.Method, p.o.Path)
	p.log.Printf(1, "> Host: %s", host)
	b.WriteString("Host: " + host + "\r\n")
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
	b.WriteString("\r\n")
	return []byte(b.String())
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

// tlsConfig names the server by --vhost (without its port), else as the
// shared client options do, and asks for HTTP/1.1.
func (p *run) tlsConfig() *tls.Config {
	return p.o.Client.Config(p.t, hostOnly(p.o.VHost), "http/1.1")
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
	first []byte
	err   error // the last read error
}

func (f *firstBytes) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if err != nil {
		f.err = err
	}
	if n > 0 && f.first == nil {
		f.at = time.Now()
		f.first = append([]byte(nil), b[:min(n, 64)]...)
	}
	return n, err
}
