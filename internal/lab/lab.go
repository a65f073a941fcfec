// Package lab runs the in-process servers that the tests and `make demo`
// check against: a well-behaved HTTP/1.1 server (plain, TLS and IPv6), and
// the misbehaving peers a real server will not imitate on demand — one
// that accepts and never answers, one that answers garbage, one with an
// endless header, one that answers a byte a second, one that resets.
//
// Every server listens on a loopback port the kernel picks. Real servers
// (nginx, HAProxy, ...) are exercised by test/integration instead.
package lab

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// CertName is the DNS name the lab's certificate carries (with localhost,
// 127.0.0.1 and ::1).
const CertName = "lab.test"

// Lab is a set of running servers.
type Lab struct {
	HTTP    netip.AddrPort // the HTTP/1.1 server on 127.0.0.1
	HTTP6   netip.AddrPort // the same on [::1]; invalid if IPv6 is off
	HTTPS   netip.AddrPort // the same over TLS
	Silent  netip.AddrPort // accepts and never answers
	Garbage netip.AddrPort // answers bytes that are not HTTP, then closes
	Endless netip.AddrPort // a status line, then one header line without end
	Slow    netip.AddrPort // a valid answer, one byte a second
	Reset   netip.AddrPort // accepts, then resets the connection
	Closed  netip.AddrPort // nothing listens here
	CAFile  string         // PEM of the certificate HTTPS serves

	HTTPSAuth12 netip.AddrPort // HTTPS, TLS 1.2, demands a client certificate
	HTTPSAuth13 netip.AddrPort // HTTPS, TLS 1.3, demands a client certificate
	HTTPSOther  netip.AddrPort // HTTPS on 127.0.0.2, an address its certificate does not carry
	Chunks      netip.AddrPort // 200, then one-byte chunks without end
	Trailers    netip.AddrPort // 200, a chunked body of one byte, then trailers without end

	healthy atomic.Bool
	pool
}

// Start starts every server. Close stops them.
func Start() (_ *Lab, err error) {
	l := &Lab{}
	l.healthy.Store(true)
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if err = l.start("lbcheck-lab-"); err != nil {
		return nil, err
	}
	cert, caFile, err := l.caCert()
	if err != nil {
		return nil, fmt.Errorf("lab certificate: %w", err)
	}
	l.CAFile = caFile

	srv := &http.Server{Handler: l.handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	l.closers = append(l.closers, srv)
	serve := func(network, addr string, tlsCfg *tls.Config) (netip.AddrPort, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return netip.AddrPort{}, err
		}
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		go srv.Serve(ln)
		return netip.MustParseAddrPort(ln.Addr().String()), nil
	}
	if l.HTTP, err = serve("tcp4", "127.0.0.1:0", nil); err != nil {
		return nil, err
	}
	if l.HTTPS, err = serve("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}}); err != nil {
		return nil, err
	}
	// IPv6 is optional: some CI containers have no ::1.
	l.HTTP6, _ = serve("tcp6", "[::1]:0", nil)
	for _, s := range []struct {
		addr *netip.AddrPort
		on   string
		cfg  *tls.Config
	}{
		{&l.HTTPSAuth12, "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12, ClientAuth: tls.RequireAnyClientCert}},
		{&l.HTTPSAuth13, "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13, ClientAuth: tls.RequireAnyClientCert}},
		{&l.HTTPSOther, "127.0.0.2:0", &tls.Config{Certificates: []tls.Certificate{cert}}},
	} {
		if *s.addr, err = serve("tcp4", s.on, s.cfg); err != nil {
			return nil, err
		}
	}

	raw := []struct {
		addr *netip.AddrPort
		fn   func(net.Conn)
	}{
		{&l.Silent, l.silent},
		{&l.Garbage, garbage},
		{&l.Endless, l.endless},
		{&l.Slow, l.slow},
		{&l.Reset, reset},
		{&l.Chunks, l.endlessChunked("", "1\r\nx\r\n")},
		{&l.Trailers, l.endlessChunked("1\r\nx\r\n0\r\n", "X-Trailer: y\r\n")},
	}
	for _, r := range raw {
		if *r.addr, err = l.serve("tcp4", 0, r.fn); err != nil {
			return nil, err
		}
	}
	if l.Closed, err = l.closedPort(); err != nil {
		return nil, fmt.Errorf("lab closed port: %w", err)
	}
	return l, nil
}

// closedPort binds a TCP socket and never listens on it: the kernel
// answers a SYN to it with RST, and no other process can take the port
// while the lab runs (a listen-and-close port could be reused at once).
func (l *Lab) closedPort() (netip.AddrPort, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return netip.AddrPort{}, err
	}
	l.closers = append(l.closers, fdCloser(fd))
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return netip.AddrPort{}, err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port)), nil
}

type fdCloser int

func (f fdCloser) Close() error { return unix.Close(int(f)) }

// SetHealthy flips /monitor between 200 and 503, as HAProxy's monitor-uri
// does when "monitor fail" starts or stops holding.
func (l *Lab) SetHealthy(ok bool) { l.healthy.Store(ok) }

// Close stops every server and removes the certificate file.
func (l *Lab) Close() { l.shutdown() }

// handler is the well-behaved server's routes.
//
//	/                     200 "lbcheck lab\n"
//	/status/NNN           status NNN
//	/monitor              200 or 503, see SetHealthy
//	/redirect             301 to /
//	/echo/host            the Host header as the body
//	/echo/header/NAME     that request header as the body
//	/echo/method          the method as the body
//	/chunked              a chunked body
//	/big                  a 2 MiB body
//	/early-hints          103 Early Hints, then 200
//	/close-delimited      HTTP/1.0-style body ended by closing
//	/slow-body            headers at once, then the body never comes
func (l *Lab) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "down."+CertName {
			http.Error(w, "vhost is down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "lbcheck lab\n")
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil || code < 200 || code > 999 {
			http.Error(w, "bad code", http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d\n", code)
	})
	mux.HandleFunc("/monitor", func(w http.ResponseWriter, r *http.Request) {
		if !l.healthy.Load() {
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/echo/host", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Host) })
	mux.HandleFunc("/echo/method", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Method) })
	mux.HandleFunc("/echo/header/{name}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Join(r.Header.Values(r.PathValue("name")), "\n"))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(2<<20))
		line := []byte(strings.Repeat("x", 1023) + "\n")
		for range 2 << 10 {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/early-hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "after hints\n")
	})
	mux.HandleFunc("/close-delimited", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nno length, ended by close\n")
		buf.Flush()
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-l.stopping:
		}
	})
	return mux
}

func (l *Lab) silent(c net.Conn) {
	// Read and discard whatever comes, answer nothing, until the client
	// gives up or the lab stops.
	io.Copy(io.Discard, c)
}

func garbage(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	c.Read(make([]byte, 512))
	c.Write([]byte("\x00\x01SSH-2.0-OpenSSH_9.2 | not http\r\n\r\n"))
}

func (l *Lab) endless(c net.Conn) {
	w := bufio.NewWriter(c)
	w.WriteString("HTTP/1.1 200 OK\r\nX-Endless: ")
	chunk := []byte(strings.Repeat("a", 4096))
	for {
		if _, err := w.Write(chunk); err != nil {
			return
		}
		select {
		case <-l.stopping:
			return
		default:
		}
	}
}

func (l *Lab) slow(c net.Conn) {
	const answer = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
	for i := 0; i < len(answer); i++ {
		if _, err := c.Write([]byte{answer[i]}); err != nil {
			return
		}
		select {
		case <-time.After(time.Second):
		case <-l.stopping:
			return
		}
	}
}

// endlessChunked answers 200 with a chunked body that starts with head
// and then repeats unit until the client goes: one-byte chunks, or
// trailers, that cost a reader per line what it allocates per line.
func (l *Lab) endlessChunked(head, unit string) func(net.Conn) {
	block := []byte(strings.Repeat(unit, 4096))
	return func(c net.Conn) {
		go io.Copy(io.Discard, c) // the request
		w := bufio.NewWriterSize(c, 64<<10)
		w.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + head)
		for {
			if _, err := w.Write(block); err != nil {
				return
			}
			select {
			case <-l.stopping:
				return
			default:
			}
		}
	}
}

func reset(c net.Conn) {
	c.(*net.TCPConn).SetLinger(0) // close sends RST
}

// Addrs lists the servers by name, for the demo.
func (l *Lab) Addrs() []Named {
	list := []Named{
		{"http", l.HTTP}, {"http6", l.HTTP6}, {"https", l.HTTPS}, {"silent", l.Silent},
		{"garbage", l.Garbage}, {"endless", l.Endless}, {"slow", l.Slow}, {"reset", l.Reset}, {"closed", l.Closed},
		{"https-auth12", l.HTTPSAuth12}, {"https-auth13", l.HTTPSAuth13}, {"https-other", l.HTTPSOther},
		{"chunks", l.Chunks}, {"trailers", l.Trailers},
	}
	out := list[:0]
	for _, n := range list {
		if n.Addr.IsValid() {
			out = append(out, n)
		}
	}
	return out
}

// Named is one server's name and address.
type Named struct {
	Name string
	Addr netip.AddrPort
}
