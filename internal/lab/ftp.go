package lab

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
)

// FTP is the lab's FTP control-connection servers: a well-behaved one and
// the misbehaving peers a real server will not imitate on demand.
type FTP struct {
	OK          netip.AddrPort // multi-line 220 greeting; NOOP 200; login lab/secret; AUTH TLS
	OK6         netip.AddrPort // the same on [::1]; invalid if IPv6 is off
	LoginFirst  netip.AddrPort // as vsftpd: NOOP before login is 530
	NotReady    netip.AddrPort // greets 120
	Busy        netip.AddrPort // greets 421 and closes
	NoopRefused netip.AddrPort // an old server: NOOP and AUTH are 500
	Garbage     netip.AddrPort // greets with bytes that are not FTP
	Endless     netip.AddrPort // endless 220- continuation lines
	EndlessLine netip.AddrPort // one greeting line without end
	Slow        netip.AddrPort // greets one byte a second
	Silent      netip.AddrPort // accepts and never greets
	// Replies nobody asked for, then a command loop that never reads.
	Unasked      netip.AddrPort // greeting and "200 x" in one segment
	TwoGreetings netip.AddrPort // a proxy's "220 proxy", then the backend's "220 backend"
	LoginUnasked netip.AddrPort // "220", "230", "200" at once
	CAFile       string         // PEM of the certificate AUTH TLS serves

	tls *tls.Config
	pool
}

// Lab FTP account for --user/--password.
const (
	FTPUser     = "lab"
	FTPPassword = "secret"
)

// StartFTP starts the FTP servers. Close stops them.
func StartFTP() (_ *FTP, err error) {
	f := &FTP{}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err = f.start("lbcheck-lab-ftp-"); err != nil {
		return nil, err
	}
	cert, caFile, err := f.caCert()
	if err != nil {
		return nil, fmt.Errorf("lab FTP certificate: %w", err)
	}
	f.CAFile = caFile
	f.tls = &tls.Config{Certificates: []tls.Certificate{cert}}

	for _, s := range []struct {
		addr    *netip.AddrPort
		network string
		fn      func(net.Conn)
	}{
		{&f.OK, "tcp4", func(c net.Conn) { f.session(c, false, false) }},
		{&f.LoginFirst, "tcp4", func(c net.Conn) { f.session(c, true, false) }},
		{&f.NoopRefused, "tcp4", func(c net.Conn) { f.session(c, false, true) }},
		{&f.NotReady, "tcp4", f.greetOnly("120 Service ready in 5 minutes.\r\n")},
		{&f.Busy, "tcp4", f.greetOnly("421 Too many connections (8) from this IP\r\n")},
		{&f.Garbage, "tcp4", f.greetOnly("\x00\x01SSH-2.0-OpenSSH_9.2 | not ftp\r\n")},
		{&f.Endless, "tcp4", f.endless("220-welcome, and more\r\n")},
		{&f.EndlessLine, "tcp4", f.endless("aaaaaaaaaaaaaaaa")},
		{&f.Slow, "tcp4", f.slow},
		{&f.Silent, "tcp4", func(c net.Conn) { io.Copy(io.Discard, c) }},
		{&f.Unasked, "tcp4", f.frozen("220 ready\r\n200 x\r\n")},
		{&f.TwoGreetings, "tcp4", f.frozen("220 proxy ready\r\n", "220 backend ready\r\n")},
		{&f.LoginUnasked, "tcp4", f.frozen("220 ready\r\n230 Login successful.\r\n200 NOOP ok.\r\n")},
	} {
		if *s.addr, err = f.serve(s.network, 30*time.Second, s.fn); err != nil {
			return nil, err
		}
	}
	// IPv6 is optional: some CI containers have no ::1.
	f.OK6, _ = f.serve("tcp6", 30*time.Second, func(c net.Conn) { f.session(c, false, false) })
	return f, nil
}

// Addrs lists the servers by name, for the demo.
func (f *FTP) Addrs() []Named {
	var out []Named
	for _, n := range []Named{{"ftp", f.OK}, {"ftp6", f.OK6}, {"ftp-login-first", f.LoginFirst}, {"ftp-not-ready", f.NotReady},
		{"ftp-busy", f.Busy}, {"ftp-noop-refused", f.NoopRefused}, {"ftp-garbage", f.Garbage}, {"ftp-endless", f.Endless},
		{"ftp-endless-line", f.EndlessLine}, {"ftp-slow", f.Slow}, {"ftp-silent", f.Silent}, {"ftp-unasked", f.Unasked},
		{"ftp-two-greetings", f.TwoGreetings}, {"ftp-login-unasked", f.LoginUnasked}} {
		if n.Addr.IsValid() {
			out = append(out, n)
		}
	}
	return out
}

// Close stops every server.
func (f *FTP) Close() { f.shutdown() }

// session is a small FTP command loop: enough of RFC 959 and RFC 4217
// for a health check. loginFirst answers NOOP with 530 until a login, as
// vsftpd does; old answers NOOP and AUTH with 500.
func (f *FTP) session(c net.Conn, loginFirst, old bool) {
	var conn net.Conn = c
	r := bufio.NewReader(conn)
	say := func(s string) { io.WriteString(conn, s+"\r\n") }
	say("220-lbcheck lab FTP\r\n220-a multi-line greeting\r\n220 ready")
	user, loggedIn, secure := "", false, false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		switch strings.ToUpper(cmd) {
		case "AUTH":
			if old {
				say("500 Unknown command.")
				continue
			}
			if !strings.EqualFold(arg, "TLS") || secure {
				say("504 AUTH TLS only, once")
				continue
			}
			say("234 Proceed with negotiation.")
			tc := tls.Server(c, f.tls)
			if tc.Handshake() != nil {
				return
			}
			conn, secure = tc, true
			r = bufio.NewReader(conn)
		case "USER":
			user, loggedIn = arg, false
			say("331 Please specify the password.")
		case "PASS":
			if user == FTPUser && arg == FTPPassword || user == "anonymous" {
				loggedIn = true
				say("230 Login successful.")
			} else {
				say("530 Login incorrect.")
			}
		case "NOOP":
			switch {
			case loginFirst && !loggedIn:
				say("530 Please login with USER and PASS.")
			case old:
				say("500 Unknown command.")
			default:
				say("200 NOOP ok.")
			}
		case "QUIT":
			say("221 Goodbye.")
			return
		default:
			say("500 Unknown command.")
		}
	}
}

func (f *FTP) greetOnly(greeting string) func(net.Conn) {
	return func(c net.Conn) {
		io.WriteString(c, greeting)
		// Read what the client sends until it goes, so that our close
		// does not reset the connection before the greeting is read.
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.Copy(io.Discard, c)
	}
}

// frozen sends each write in turn, then never reads: a command loop that
// hangs while its replies, or a proxy's, wait in the socket.
func (f *FTP) frozen(writes ...string) func(net.Conn) {
	return func(c net.Conn) {
		for _, w := range writes {
			if _, err := io.WriteString(c, w); err != nil {
				return
			}
		}
		select {
		case <-f.stopping:
		case <-time.After(5 * time.Second):
		}
	}
}

func (f *FTP) endless(chunk string) func(net.Conn) {
	return func(c net.Conn) {
		w := bufio.NewWriter(c)
		for {
			if _, err := w.WriteString(chunk); err != nil {
				return
			}
			select {
			case <-f.stopping:
				return
			default:
			}
		}
	}
}

func (f *FTP) slow(c net.Conn) {
	const greeting = "220 slow\r\n"
	for i := 0; i < len(greeting); i++ {
		if _, err := c.Write([]byte{greeting[i]}); err != nil {
			return
		}
		select {
		case <-time.After(time.Second):
		case <-f.stopping:
			return
		}
	}
}
