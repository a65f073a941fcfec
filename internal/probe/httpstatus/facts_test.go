package httpstatus

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/probe"
)

// factsWith runs the exchange against a peer that answers with the given
// bytes and returns what the probe learned for the daemon's metrics.
func factsWith(t *testing.T, o *Options, answer string) probe.Facts {
	t.Helper()
	if err := validate(o); err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		go io.Copy(io.Discard, server)
		server.Write([]byte(answer))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p := &run{t: probe.Target{Host: "facts.test", IsName: true, Addr: netip.MustParseAddrPort("192.0.2.1:80"), Log: probe.NewLog(0)}, o: o, start: time.Now()}
	p.exchange(ctx, client)
	return p.facts
}

// TestFacts: the numbers blackbox_exporter's http families need, as it
// means them: probe_http_content_length is the header (-1 without one),
// probe_http_uncompressed_body_length what was read.
func TestFacts(t *testing.T) {
	tests := []struct {
		name, method, regex, expect, answer string
		version                             int
		length, body                        int64
		lastModified                        string
		regexFailed                         bool
	}{
		{"length declared, body not needed", "GET", "", "", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 11, 2, 2, "", false},
		{"http/1.0 until close: read", "GET", "", "", "HTTP/1.0 200 OK\r\n\r\nabc", 10, -1, 3, "", false},
		{"chunked: -1, and the bytes read", "GET", "^hello world$", "", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 11, -1, 11, "", false},
		{"regex failed", "GET", "^nope$", "", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 11, 3, 3, "", true},
		{"no content", "GET", "", "", "HTTP/1.1 204 No Content\r\n\r\n", 11, 0, 0, "", false},
		{"not modified ignores its length", "GET", "", "304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 11, 0, 0, "", false},
		{"HEAD: the header, no body", "HEAD", "", "", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 11, 99, 0, "", false},
		{"Last-Modified kept as sent", "GET", "", "", "HTTP/1.1 200 OK\r\nLast-Modified: Mon, 07 Dec 2026 10:00:00 GMT\r\nContent-Length: 0\r\n\r\n", 11, 0, 0, "Mon, 07 Dec 2026 10:00:00 GMT", false},
		{"unexpected status: still counted", "GET", "", "", "HTTP/1.1 503 Busy\r\nContent-Length: 5\r\n\r\nbusy\n", 11, 5, 5, "", false},
		{"no answer", "GET", "", "", "", 0, 0, 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &Options{Path: "/", Method: tt.method, MaxBody: 1 << 20, BodyRegex: tt.regex, expectText: "200-299"}
			if tt.expect != "" {
				o.expectText = tt.expect
			}
			f := factsWith(t, o, tt.answer)
			if f.HTTPVersion != tt.version || f.HTTPContentLength != tt.length || f.HTTPBodyBytes != tt.body || f.HTTPLastModified != tt.lastModified || f.RegexFailed != tt.regexFailed {
				t.Errorf("version %d, length %d, body %d, Last-Modified %q, regex failed %v; want %d, %d, %d, %q, %v",
					f.HTTPVersion, f.HTTPContentLength, f.HTTPBodyBytes, f.HTTPLastModified, f.RegexFailed,
					tt.version, tt.length, tt.body, tt.lastModified, tt.regexFailed)
			}
		})
	}
}
