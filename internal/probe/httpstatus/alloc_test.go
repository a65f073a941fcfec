package httpstatus

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// cannedConn is a connection whose peer has already answered: reads come
// from the answer, writes go nowhere. It lets a benchmark count what the
// probe itself allocates.
type cannedConn struct {
	net.Conn // nil: only the methods below are used
	r        bytes.Reader
}

func (c *cannedConn) Read(b []byte) (int, error)         { return c.r.Read(b) }
func (c *cannedConn) Write(b []byte) (int, error)        { return len(b), nil }
func (c *cannedConn) SetDeadline(time.Time) error        { return nil }
func (c *cannedConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *cannedConn) Close() error                       { return nil }
func (c *cannedConn) SetReadDeadline(time.Time) error    { return nil }
func (c *cannedConn) SetWriteDeadline(t time.Time) error { return nil }

// BenchmarkExchange: the work of one plain check after connect, with its
// allocations; what every call of check_http_status pays.
func BenchmarkExchange(b *testing.B) {
	for _, bc := range []struct {
		name   string
		o      Options
		answer string
	}{
		{"status", Options{}, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nlbcheck lab\n"},
		{"regex", Options{BodyRegex: "lab"}, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nlbcheck lab\n"},
		{"chunked regex", Options{BodyRegex: "lab"}, "HTTP/1.1 200 OK\r\nServer: nginx\r\nTransfer-Encoding: chunked\r\n\r\nc\r\nlbcheck lab\n\r\n0\r\n\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			o := bc.o
			o.Path, o.Method, o.expectText, o.MaxBody = "/", "GET", "200-299", 1<<20
			if err := validate(&o); err != nil {
				b.Fatal(err)
			}
			t := probe.Target{Host: "10.0.0.5", Addr: netip.MustParseAddrPort("10.0.0.5:80")}
			ctx := context.Background()
			c, answer := &cannedConn{}, []byte(bc.answer)
			b.ReportAllocs()
			for b.Loop() {
				c.r.Reset(answer)
				p := &run{t: t, o: &o, start: time.Now()}
				if r := p.exchange(ctx, c); r.State != exitcode.OK {
					b.Fatal(r.Summary)
				}
			}
		})
	}
}

// TestAllocationsDoNotGrowWithTheAnswer: what the probe allocates does not
// depend on how many chunks or trailer lines the peer sends (issue 13,
// item 11: one allocation per chunk line and per trailer line took a
// process past 10 MiB). Item 11's bound on the whole process is tested on
// the built binary in cmd/check_http_status.
func TestAllocationsDoNotGrowWithTheAnswer(t *testing.T) {
	chunks := func(n int) []byte {
		return []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1\r\nx\r\n", n) + "0\r\n\r\n")
	}
	trailers := func(n int) []byte {
		return []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n" + strings.Repeat("X-T: y\r\n", n) + "\r\n")
	}
	tests := []struct {
		name         string
		o            Options
		answer       func(int) []byte
		small, large int
	}{
		// Both sizes past the regex's first buffer, and past the size at
		// which package regexp changes engines.
		{"one-byte chunks, regex", Options{BodyRegex: "^x+$"}, chunks, 20000, 100000},
		{"one-byte chunks, digest", Options{Digest: md5hex("")}, chunks, 20000, 100000},
		{"one-byte chunks, size", Options{}, chunks, 20000, 100000},
		{"trailer lines", Options{BodyRegex: "^x$"}, trailers, 1000, 8000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Path, o.Method, o.expectText, o.MaxBody = "/", "GET", "200-299", 1<<20
			if err := validate(&o); err != nil {
				t.Fatal(err)
			}
			target := probe.Target{Host: "10.0.0.5", Addr: netip.MustParseAddrPort("10.0.0.5:80")}
			allocs := func(n int) float64 {
				c, answer := &cannedConn{}, tt.answer(n)
				return testing.AllocsPerRun(3, func() {
					c.r.Reset(answer)
					p := &run{t: target, o: &o, start: time.Now()}
					p.exchange(context.Background(), c)
				})
			}
			// A few allocations of slack: under -race, sync.Pool drops
			// some of what it is given. One per line would be thousands.
			if small, large := allocs(tt.small), allocs(tt.large); large > small+16 {
				t.Errorf("%.0f allocations for %d, %.0f for %d: they grow with the answer", small, tt.small, large, tt.large)
			}
		})
	}
}
