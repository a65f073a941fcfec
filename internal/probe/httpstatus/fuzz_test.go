package httpstatus

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// exchangeWith runs the probe's exchange against a peer that answers with
// the given bytes and then closes.
func exchangeWith(t testing.TB, o *Options, answer []byte) probe.Result {
	if err := validate(o); err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		go io.Copy(io.Discard, server) // take the request
		server.Write(answer)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p := &run{t: probe.Target{Host: "fuzz.test", IsName: true, Addr: netip.MustParseAddrPort("192.0.2.1:80"), Log: probe.NewLog(2)}, o: o, start: time.Now()}
	return p.exchange(ctx, client)
}

func TestExchange(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		answer  string
		state   exitcode.State
		summary string
	}{
		{"ok", Options{}, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", exitcode.OK, "200 OK from 192.0.2.1:80, 2 B"},
		{"http/1.0 close delimited", Options{}, "HTTP/1.0 200 OK\r\n\r\nabc", exitcode.OK, "200 OK from 192.0.2.1:80, 3 B"},
		{"no reason phrase", Options{}, "HTTP/1.1 204\r\n\r\n", exitcode.OK, "204 from 192.0.2.1:80, 0 B"},
		{"control chars in reason", Options{}, "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n", exitcode.OK, "200 O?K from"},
		{"pipe in reason", Options{}, "HTTP/1.1 503 a|b\r\nContent-Length: 0\r\n\r\n", exitcode.Critical, "503 a?b from"},
		{"empty answer", Options{}, "", exitcode.Critical, "reading the answer from 192.0.2.1:80: connection closed by peer"},
		{"not http", Options{}, "220 mail.example.org ESMTP\r\n", exitcode.Critical, `not HTTP from 192.0.2.1:80: "220 mail.example.org ESMTP\r\n"`},
		{"http but broken", Options{}, "HTTP/1.1 2OO OK\r\n\r\n", exitcode.Critical, "bad HTTP answer from 192.0.2.1:80"},
		{"short body", Options{Digest: "00000000000000000000000000000000"}, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", exitcode.Critical, "reading body after 3 B: connection closed by peer"},
		{"bad chunking", Options{BodyRegex: "x"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", exitcode.Critical, "reading body"},
		{"chunked with extension and trailer", Options{BodyRegex: "^hello world$"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n", exitcode.OK, "200 OK from 192.0.2.1:80, 11 B"},
		{"chunked size only", Options{}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", exitcode.OK, ", 3 B"},
		{"chunk without crlf", Options{BodyRegex: "x"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n", exitcode.Critical, "reading body after 3 B"},
		{"chunked cut short", Options{BodyRegex: "x"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", exitcode.Critical, "connection closed by peer"},
		{"http/1.0 has no chunking", Options{BodyRegex: "^3\r\nabc\r\n0\r\n\r\n$"}, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", exitcode.OK, ", 13 B"},
		{"other encoding runs to close", Options{}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabcd", exitcode.OK, ", 4 B"},
		{"conflicting lengths", Options{}, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", exitcode.Critical, "bad HTTP answer"},
		{"same length twice", Options{}, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", exitcode.OK, ", 2 B"},
		{"negative length", Options{}, "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n", exitcode.Critical, "bad HTTP answer"},
		{"not modified has no body", Options{BodyRegex: "^$", expectText: "304"}, "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", exitcode.OK, "304 Not Modified from 192.0.2.1:80, 0 B"},
		{"head reports length", Options{Method: "HEAD"}, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", exitcode.OK, ", 99 B"},
		{"interim then final", Options{}, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", exitcode.OK, "200 OK"},
		{"one-byte chunks up to max-body", Options{MaxBody: 1000, Digest: md5hex(strings.Repeat("x", 1000))},
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1\r\nx\r\n", 1000) + "0\r\n\r\n", exitcode.OK, ", 1000 B"},
		{"endless chunk line", Options{BodyRegex: "x"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1", 10000), exitcode.Critical, "chunk line longer than 4096 bytes"},
		{"body cut at max-body", Options{MaxBody: 10, BodyRegex: "^a+$"}, "HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("a", 50), exitcode.OK, ", over 10 B"},
		{"http/2 preface is not http/1", Options{}, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", exitcode.Critical, "not HTTP"},
		// Issue 13, item 8: bounds made from --max-body once overflowed.
		{"max-body int64 max, digest", Options{MaxBody: math.MaxInt64, Digest: md5hex("ok")}, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", exitcode.OK, "200 OK from 192.0.2.1:80, 2 B"},
		{"max-body int64 max, chunked size", Options{MaxBody: math.MaxInt64}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", exitcode.OK, ", 3 B"},
		{"max-body int64 max, close delimited", Options{MaxBody: math.MaxInt64 - 1, Digest: md5hex("abc")}, "HTTP/1.0 200 OK\r\n\r\nabc", exitcode.OK, ", 3 B"},
		{"max-body at the regex bound", Options{MaxBody: maxKeptBody, BodyRegex: "^abc$"}, "HTTP/1.0 200 OK\r\n\r\nabc", exitcode.OK, ", 3 B"},
		// Item 17: a regex that fails on a cut body says where it looked.
		{"regex on a cut body names the bound", Options{MaxBody: 10, BodyRegex: "b"}, "HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("a", 50) + "b",
			exitcode.Critical, `body does not match "b" in its first 10 B (--max-body)`},
		{"regex on a whole body says no more", Options{MaxBody: 10, BodyRegex: "b"}, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + strings.Repeat("a", 10),
			exitcode.Critical, `body does not match "b"$`},
		// Item 18: trailers past our bound say so, not "connection closed".
		{"endless trailers name the limit", Options{MaxBody: 100, Digest: md5hex("x")},
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n" + strings.Repeat("X-T: y\r\n", 20000),
			exitcode.Critical, "reading body after 1 B: chunked trailers longer than 64 KiB, our limit"},
		{"trailers within the limit", Options{MaxBody: 100, Digest: md5hex("x")},
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n" + strings.Repeat("X-T: y\r\n", 1000) + "\r\n",
			exitcode.OK, ", 1 B"},
		{"chunk framing past our bound says so", Options{MaxBody: 100, BodyRegex: "x"},
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1;"+strings.Repeat("e", 4000)+"\r\nx\r\n", 50),
			exitcode.Critical, "chunked body with its framing longer than 70238 B, our limit"},
		{"chunk size hex, upper case, leading zeros", Options{BodyRegex: "^x{26}$"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n001A\r\n" + strings.Repeat("x", 26) + "\r\n0\r\n\r\n", exitcode.OK, ", 26 B"},
		{"chunk size too large", Options{BodyRegex: "x"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\nx", exitcode.Critical, "chunk size"},
		{"chunk size signed", Options{BodyRegex: "x"}, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+1\r\nx\r\n0\r\n\r\n", exitcode.Critical, "chunk size"},
		{"bad version", Options{}, "HTTP/2 200\r\n\r\n", exitcode.Critical, "bad HTTP answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Path = "/"
			if o.MaxBody == 0 {
				o.MaxBody = 1 << 20
			}
			if o.Method == "" {
				o.Method = "GET"
			}
			if o.expectText == "" {
				o.expectText = "200-299"
			}
			r := exchangeWith(t, &o, []byte(tt.answer))
			contains := strings.Contains(r.Summary, tt.summary)
			if want, ok := strings.CutSuffix(tt.summary, "$"); ok { // the end of the summary
				contains = strings.HasSuffix(r.Summary, want)
			}
			if r.State != tt.state || !contains {
				t.Errorf("got %v %q, want %v containing %q", r.State, r.Summary, tt.state, tt.summary)
			}
		})
	}
}

// FuzzExchange: whatever the server sends, the probe returns a verdict in
// time, never UNKNOWN (the arguments were fine), never with a summary that
// would break the Nagios line, and OK only for an HTTP answer.
func FuzzExchange(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.0 503 Service Unavailable\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n",
		"\x16\x03\x01\x00\x05hello",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\no\r\n1;x=y\r\nk\r\n0\r\nT: 1\r\nU: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0002\r\nok\r\n0\r\n" + strings.Repeat("T: 1\r\n", 200),
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFF\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \t;a\r\nok\n0\n\n",
	} {
		for mode := range uint8(4) {
			f.Add([]byte(s), mode)
		}
	}
	f.Fuzz(func(t *testing.T, answer []byte, mode uint8) {
		o := Options{Path: "/", Method: "GET", expectText: "200-299", MaxBody: 64}
		if mode&1 == 1 {
			o.BodyRegex, o.Digest = "o", "444bcb3a3fcf8389296c49467f27e1d6"
		}
		if mode&2 == 2 { // the largest --max-body each way allows
			o.MaxBody = math.MaxInt64
			if o.BodyRegex != "" {
				o.MaxBody = maxKeptBody
			}
		}
		start := time.Now()
		r := exchangeWith(t, &o, answer)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("verdict after %v", took)
		}
		if r.State != exitcode.OK && r.State != exitcode.Critical {
			t.Fatalf("state %v for %q: %s", r.State, answer, r.Summary)
		}
		if r.Summary == "" || strings.ContainsAny(r.Summary, "\n\r|") {
			t.Fatalf("summary %q unfit for the first line", r.Summary)
		}
		if r.State == exitcode.OK && !strings.HasPrefix(string(answer), "HTTP/") {
			t.Fatalf("OK for a non-HTTP answer %q: %s", answer, r.Summary)
		}
	})
}

// FuzzChunkSize: the chunk-size parser agrees with strconv on every input
// it takes, and takes every hex number below its bound.
func FuzzChunkSize(f *testing.F) {
	for _, s := range []string{"0", "1", "a", "F", "00001", "fffffffffffffff", "1000000000000000", "+1", "-1", "0x1", "1_0", "", " 1", "g"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := parseChunkSize(b)
		ref, err := strconv.ParseUint(string(b), 16, 64)
		want := err == nil && ref < 1<<60
		if ok != want || (ok && uint64(n) != ref) {
			t.Fatalf("%q: %d %v, strconv %d %v", b, n, ok, ref, err)
		}
	})
}

func TestRequestBytes(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		host string
		port uint16
		want string
	}{
		{"default", Options{}, "10.0.0.5", 80,
			"GET / HTTP/1.1\r\nHost: 10.0.0.5\r\nUser-Agent: lbcheck-check_http_status/test\r\nAccept: */*\r\nConnection: close\r\n\r\n"},
		{"port and ipv6", Options{Path: "/health?full=1"}, "2001:db8::5", 8080,
			"GET /health?full=1 HTTP/1.1\r\nHost: [2001:db8::5]:8080\r\nUser-Agent: lbcheck-check_http_status/test\r\nAccept: */*\r\nConnection: close\r\n\r\n"},
		{"vhost, headers in order, post", Options{VHost: "www.example.org", Method: "POST", Headers: []string{"x-b: 2", "X-A:1", "user-agent: probe"}}, "10.0.0.5", 80,
			"POST / HTTP/1.1\r\nHost: www.example.org\r\nAccept: */*\r\nX-B: 2\r\nX-A: 1\r\nUser-Agent: probe\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
		{"tls default port", Options{TLS: true}, "www.example.org", 443,
			"GET / HTTP/1.1\r\nHost: www.example.org\r\nUser-Agent: lbcheck-check_http_status/test\r\nAccept: */*\r\nConnection: close\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			if o.Path == "" {
				o.Path = "/"
			}
			if o.Method == "" {
				o.Method = "GET"
			}
			o.expectText = "2xx"
			o.SetVersion("test")
			if err := validate(&o); err != nil {
				t.Fatal(err)
			}
			ip := netip.MustParseAddr("192.0.2.1")
			if a, err := netip.ParseAddr(tt.host); err == nil {
				ip = a
			}
			_, err := netip.ParseAddr(tt.host)
			p := &run{t: probe.Target{Host: tt.host, IsName: err != nil, Addr: netip.AddrPortFrom(ip, tt.port)}, o: &o}
			if got := string(p.request()); got != tt.want {
				t.Errorf("request\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
