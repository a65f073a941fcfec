package httpstatus

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"testing"
)

// FuzzResponseAgreesWithNetHTTP: where both this reader and net/http read
// a response and its whole body, they agree on the status code and on
// every body byte. net/http is the reference; it is only linked into tests.
func FuzzResponseAgreesWithNetHTTP(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n1\r\n!\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\n\r\nclose-delimited",
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 301 Moved\r\nLocation: /\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00A\r\n0123456789\r\n1 ;x\r\n!\r\n0\r\nT: 1\r\nU: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ref, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), &http.Request{Method: "GET"})
		if err != nil {
			return
		}
		refBody, err := io.ReadAll(ref.Body)
		if err != nil {
			return
		}
		br := bufio.NewReader(bytes.NewReader(in))
		resp, err := readResponse(textproto.NewReader(br))
		if err != nil {
			return // stricter than net/http is allowed
		}
		body, err := io.ReadAll(resp.body(br, "GET"))
		if err != nil {
			return
		}
		if resp.code != ref.StatusCode {
			t.Fatalf("%q: status %d, net/http %d", in, resp.code, ref.StatusCode)
		}
		if !bytes.Equal(body, refBody) {
			t.Fatalf("%q: body %q, net/http %q", in, body, refBody)
		}
	})
}
