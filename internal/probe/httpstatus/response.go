package httpstatus

import (
	"bufio"
	"bytes"
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
	// HTTP/1.0 has no Transfer-Encoding (RFC 9112 section 6.1 calls such
	// framing faulty): ignore it, as net/http does, and read to the close.
	if te := r.header.Values("Transfer-Encoding"); len(te) > 0 && r.proto != "HTTP/1.0" {
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

// maxTrailerBytes bounds a chunked body's trailer section, as
// maxHeaderBytes bounds the header block: trailers are headers too.
const maxTrailerBytes = maxHeaderBytes

// errTrailers says that our bound on trailers ran out, not the peer's
// data: an endless trailer section once read as "connection closed".
var errTrailers = &limitError{what: "chunked trailers", max: maxTrailerBytes}

// limitError is a bound of ours that the answer went past. Its text is
// made when it is reported, not at start-up.
type limitError struct {
	what string
	max  int64
}

func (e *limitError) Error() string {
	if e.max%1024 == 0 {
		return fmt.Sprintf("%s longer than %d KiB, our limit", e.what, e.max>>10)
	}
	return fmt.Sprintf("%s longer than %d B, our limit", e.what, e.max)
}

// chunkedReader decodes a chunked body and reads its trailers. It reads
// lines in place from the bufio buffer: a peer sending one-byte chunks or
// endless trailer lines costs no allocation per line.
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
	size := line
	if i := bytes.IndexByte(size, ';'); i >= 0 {
		size = size[:i] // chunk extensions are ignored
	}
	size = bytes.TrimRight(size, " \t")
	n, ok := parseChunkSize(size)
	if !ok {
		return fmt.Errorf("%w: chunk size %q", errMalformed, probe.Clean(string(size), 32))
	}
	if n > 0 {
		c.left = n
		return nil
	}
	for read := 0; ; { // trailers, up to the empty line
		line, err := c.line()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			c.done = true
			return nil
		}
		if read += len(line) + 2; read > maxTrailerBytes {
			return errTrailers
		}
	}
}

// parseChunkSize reads a chunk size: hex digits only (no sign, no
// prefix), at most 2^60-1, which no --max-body comes near.
func parseChunkSize(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		switch {
		case '0' <= d && d <= '9':
			d -= '0'
		case 'a' <= d && d <= 'f':
			d -= 'a' - 10
		case 'A' <= d && d <= 'F':
			d -= 'A' - 10
		default:
			return 0, false
		}
		if n >= 1<<56 {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

// line reads one chunk-size or trailer line, without its line end, as a
// slice of the bufio buffer valid until the next read. A line longer than
// the buffer is an error, so an endless one cannot grow memory.
func (c *chunkedReader) line() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, fmt.Errorf("%w: chunk line longer than %d bytes", errMalformed, c.r.Size())
	case err == io.EOF:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func (c *chunkedReader) crlf() error {
	for _, want := range [2]byte{'\r', '\n'} {
		b, err := c.r.ReadByte()
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		if b != want {
			return fmt.Errorf("%w: no CRLF after chunk", errMalformed)
		}
	}
	return nil
}
