package tlshello

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlshello/handshake"
)

// rec is a record of type typ carrying body.
func rec(typ byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append([]byte{typ, 3, 3, byte(len(b) >> 8), byte(len(b))}, b...)
}

// msg is a handshake message.
func msg(typ byte, body []byte) []byte {
	return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

// serverHello builds a ServerHello body; version 0x0304 goes in
// supported_versions, as TLS 1.3 does.
func serverHello(version, cipher uint16) []byte {
	b := []byte{3, 3}
	b = append(b, bytes.Repeat([]byte{7}, 32)...)
	b = append(b, 0, byte(cipher>>8), byte(cipher), 0)
	if version == 0x0304 {
		b = append(b, 0, 6, 0, 43, 0, 2, 3, 4)
	}
	return b
}

// exchangeWith runs the probe's exchange against a loopback peer that
// answers with the given bytes, then half-closes and drains what comes.
func exchangeWith(t testing.TB, o *Options, answer []byte) probe.Result {
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write(answer)
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	tg := probe.Target{Host: "fuzz.test", IsName: true, Addr: addr, Log: probe.NewLog(2)}
	conn, err := tg.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := &run{t: tg, o: o, addr: "192.0.2.1:443", start: time.Now(), log: tg.Log}
	return p.exchange(ctx, conn)
}

// FuzzExchange: whatever the server sends, the probe returns a verdict in
// time, never UNKNOWN, never OK (no random bytes make a server flight
// crypto/tls accepts), and a summary fit for the first line.
func FuzzExchange(f *testing.F) {
	f.Add(rec(22, msg(2, serverHello(0x0303, 0xc02f)), msg(14, nil)), uint8(0))
	f.Add(rec(22, msg(2, serverHello(0x0304, 0x1301))), uint8(0))
	f.Add(rec(21, []byte{2, 40}), uint8(0))
	f.Add([]byte("220 mail ESMTP\r\n250 ok\r\n220 go\r\n"), uint8(1))
	f.Add([]byte("* OK hi\r\na1 OK go\r\n"), uint8(2))
	f.Add([]byte("S"), uint8(4))
	f.Fuzz(func(t *testing.T, answer []byte, mode uint8) {
		o := Options{StartTLS: []string{"", "smtp", "imap", "pop3", "postgres", "ftp"}[mode%6]}
		start := time.Now()
		r := exchangeWith(t, &o, answer)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("verdict after %v", took)
		}
		if r.State != exitcode.Critical {
			t.Fatalf("state %v for %q: %s", r.State, answer, r.Summary)
		}
		if r.Summary == "" || strings.ContainsAny(r.Summary, "\n\r|") {
			t.Fatalf("summary %q unfit for the first line", r.Summary)
		}
	})
}

func TestStartTLSBounds(t *testing.T) {
	tests := []struct {
		name, proto, answer, want string
	}{
		{"endless line", "smtp", "220 " + strings.Repeat("a", 5000), "a line of more than 2048 bytes"},
		{"endless reply", "ftp", strings.Repeat("220-more\r\n", 100), "more than 64 lines"},
		{"code changes", "smtp", "220-a\r\n250 b\r\n", "changed reply code"},
		{"ftp not ready", "ftp", "120 wait\r\n", `answered the greeting with "120 wait"`},
		{"imap bye", "imap", "* BYE go away\r\n", `greeted with "* BYE go away"`},
		{"imap no", "imap", "* OK hi\r\na1 NO nope\r\n", `answered STARTTLS with "a1 NO nope"`},
		{"pop3 err", "pop3", "+OK hi\r\n-ERR no\r\n", `answered STLS with "-ERR no"`},
		{"postgres error", "postgres", "EFATAL", `answered SSLRequest with "EFATAL"`},
		{"injection", "pop3", "+OK hi\r\n+OK go\r\n\x16\x03\x03", `sent data before the TLS handshake "\x16\x03\x03"`},
		{"closed early", "smtp", "220 hi\r\n", "smtp upgrade with 192.0.2.1:443, waiting for EHLO: connection closed by peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := exchangeWith(t, &Options{StartTLS: tt.proto}, []byte(tt.answer))
			if r.State != exitcode.Critical || !strings.Contains(r.Summary, tt.want) {
				t.Errorf("got %v %q, want CRITICAL containing %q", r.State, r.Summary, tt.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	cn := func(name string, san ...string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: name}, DNSNames: san}
	}
	tests := []struct {
		name string
		c    *x509.Certificate
		host string
		want bool
	}{
		{"san", cn("", "a.example.org"), "a.example.org", true},
		{"cn only", cn("a.example.org"), "A.example.org", true},
		{"cn wildcard", cn("*.example.org"), "a.example.org", true},
		{"cn wildcard one label", cn("*.example.org"), "a.b.example.org", false},
		{"neither", cn("a.example.org", "b.example.org"), "c.example.org", false},
		{"empty certificate", cn(""), "a.example.org", false},
	}
	for _, tt := range tests {
		if got := matches(tt.c, tt.host); got != tt.want {
			t.Errorf("%s: matches %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestEnding: the handshake is completed only where that reaches nothing
// new and a server logs it least: TLS 1.3 after STARTTLS, no client
// certificate asked for, the flight checked. Everywhere else a
// close_notify (the figures are in the README).
func TestEnding(t *testing.T) {
	tests := []struct {
		name     string
		starttls string
		version  uint16
		certReq  bool
		done     bool
		want     handshake.Ending
	}{
		{"starttls tls1.3", "smtp", 0x0304, false, true, handshake.Finish},
		{"tls port tls1.3: may be a terminator", "", 0x0304, false, true, handshake.CloseNotify},
		{"starttls tls1.2: no key exchange to finish", "imap", 0x0303, false, true, handshake.CloseNotify},
		{"starttls tls1.3 with a certificate request", "smtp", 0x0304, true, true, handshake.CloseNotify},
		{"starttls tls1.3, flight failed its checks", "smtp", 0x0304, false, false, handshake.CloseNotify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &run{o: &Options{StartTLS: tt.starttls}}
			res := &handshake.Result{Version: tt.version, CertRequested: tt.certReq, Done: tt.done}
			if got := p.ending(res); got != tt.want {
				t.Errorf("ending %s, want %s", handshake.EndingName(got), handshake.EndingName(tt.want))
			}
		})
	}
}
