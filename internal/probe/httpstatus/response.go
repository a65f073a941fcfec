package httpstatus

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/lbcheck/lbcheck/internal/probe"
)

// This file reads an HTTP/1.1 response by hand instead of through
// net/http: linking net/http (HTTP/2, compression, MIME, cookies) costs
// about half a millisecond of start-up on every call, and a health check
// needs only the status line, the headers and the body's framing.

// errMalformed is wrapped by every protocol error in a response.
var errMalformed = errors.New("malformed HTTP response")

// response is a parsed status line and header block.
type response struct {
	proto      string // "HTTP/1.1"
	code       int
	reason     string
	header     textproto.MIMEHeader
	bodyLength int64 // -1: until the connection closes
	chunked    bool
}

// readResponse reads one status line and header block from r.
func readResponse(r *textproto.Reader) (*response, error) {
	line, err := r.ReadLine()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") || len(proto) != 8 || proto[7] < '0' || proto[7] > '9' {
		return nil, fmt.Errorf("%w: status line", errMalformed)
	}
	codeText, reason, _ := strings.Cut(rest, " ")
	if len(codeText) != 3 {
		return nil, fmt.Errorf("%w: status code", errMalformed)
	}
	code, err := strconv.Atoi(codeText)
	if err != nil || code < 100 {
		return nil, fmt.Errorf("%w: status code", errMalformed)
	}
	h, err := r.ReadMIMEHeader()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	resp := &response{proto: proto, code: code, reason: strings.TrimSpace(reason), header: h, bodyLength: -1}
	return resp, resp.framing()
}

// framing works out how the body is delimited (RFC 9112 section 6.3).
func (r *response) framing() error {
	if te := r.header.Values("Transfer-Encoding"); len(te) > 0 {
		// Only a final "chunked" delimits; anything else runs to close.
		last := strings.TrimSpace(te[len(te)-1])
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = strings.TrimSpace(last[i+1:])
		}
		r.chunked = strings.EqualFold(last, "chunked")
		return nil
	}
	cl := r.header.Values("Content-Length")
	if len(cl) == 0 {
		return nil
	}
	for _, v := range cl[1:] {
		if strings.TrimSpace(v) != strings.TrimSpace(cl[0]) {
			return fmt.Errorf("%w: conflicting Content-Length", errMalformed)
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(cl[0]), 10, 64)
	if err != nil || n < 0 || cl[0] == "" || strings.TrimSpace(cl[0])[0] == '+' {
		return fmt.Errorf("%w: Content-Length %q", errMalformed, probe.Clean(cl[0], 32))
	}
	r.bodyLength = n
	return nil
}

// hasBody reports whether a body follows, given the request's method.
func (r *response) hasBody(method string) bool {
	return method != "HEAD" && r.code >= 200 && r.code != 204 && r.code != 304
}

// body returns a reader of the body's bytes, framing removed.
func (r *response) body(br *bufio.Reader, method string) io.Reader {
	switch {
	case !r.hasBody(method):
		return strings.NewReader("")
	case r.chunked:
		return &chunkedReader{r: br}
	case r.bodyLength >= 0:
		return &exactReader{r: io.LimitReader(br, r.bodyLength), left: r.bodyLength}
	}
	return br
}

// exactReader is a Content-Length body: ending early is an error.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// chunkedReader decodes a chunked body and reads its trailers.
type chunkedReader struct {
	r    *bufio.Reader
	left int64 // bytes left in the current chunk
	done bool
	err  error
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.left == 0 && !c.done && c.err == nil {
		c.err = c.next()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.done {
		return 0, io.EOF
	}
	n, err := c.r.Read(p[:min(int64(len(p)), c.left)])
	c.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && c.left == 0 {
		err = c.crlf()
	}
	if err != nil {
		c.err = err
	}
	return n, nil
}

// next reads a chunk-size line; size 0 ends the body after the trailers.
func (c *chunkedReader) next() error {
	line, err := c.line()
	if err != nil {
		return err
	}
	size, _, _ := strings.Cut(line, ";") // chunk extensions are ignored
	size = strings.TrimRight(size, " \t")
	n, err := strconv.ParseUint(size, 16, 62)
	if err != nil || size == "" || strings.HasPrefix(size, "+") {
		return fmt.Errorf("%w: chunk size %q", errMalformed, probe.Clean(size, 32))
	}
	if n > 0 {
		c.left = int64(n)
		return nil
	}
	for { // trailers, up to the empty line
		line, err := c.line()
		if err != nil {
			return err
		}
		if line == "" {
			c.done = true
			return nil
		}
	}
}

// line reads one chunk-size or trailer line. A line longer than the
// bufio buffer is an error, so an endless one cannot grow memory.
func (c *chunkedReader) line() (string, error) {
	line, err := c.r.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return "", fmt.Errorf("%w: chunk line longer than %d bytes", errMalformed, c.r.Size())
	case err == io.EOF:
		return "", io.ErrUnexpectedEOF
	case err != nil:
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (c *chunkedReader) crlf() error {
	var b [2]byte
	if _, err := io.ReadFull(c.r, b[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if b != [2]byte{'\r', '\n'} {
		return fmt.Errorf("%w: no CRLF after chunk", errMalformed)
	}
	return nil
}
