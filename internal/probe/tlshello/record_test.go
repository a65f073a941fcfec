package tlshello

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
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
func serverHello(version, cipher uint16, random []byte) []byte {
	if random == nil {
		random = bytes.Repeat([]byte{7}, 32)
	}
	b := []byte{3, 3}
	b = append(b, random...)
	b = append(b, 0, byte(cipher>>8), byte(cipher), 0)
	if version == 0x0304 {
		b = append(b, 0, 6, 0, 43, 0, 2, 3, 4)
	}
	return b
}

func TestFlight(t *testing.T) {
	sh12 := msg(msgServerHello, serverHello(0x0303, 0xc02f, nil))
	sh13 := msg(msgServerHello, serverHello(0x0304, 0x1301, nil))
	hrr := msg(msgServerHello, serverHello(0x0304, 0x1301, helloRetryRandom))
	cert := msg(msgCertificate, bytes.Repeat([]byte{1}, 3000))
	done := msg(msgServerHelloDone, nil)
	full12 := append(rec(recordHandshake, sh12, cert), rec(recordHandshake, msg(msgCertificateRequest, []byte{1, 2}), done)...)
	tests := []struct {
		name    string
		in      []byte
		err     error
		fault   string // in faultMsg
		flight  string // flightText
		check   func(*flight) bool
		partial bool
	}{
		{"tls12 full flight", full12, nil, "", "ServerHello, Certificate, CertificateRequest, ServerHelloDone",
			func(f *flight) bool {
				return f.done && f.certReq && f.version == 0x0303 && f.cipher == 0xc02f && !f.encrypted
			}, false},
		{"messages split across records", func() []byte {
			all := append(append([]byte{}, sh12...), done...)
			return append(rec(recordHandshake, all[:3]), append(rec(recordHandshake, all[3:40]), rec(recordHandshake, all[40:])...)...)
		}(), nil, "", "ServerHello, ServerHelloDone", func(f *flight) bool { return f.done }, false},
		{"tls13 hello then encrypted", append(rec(recordHandshake, sh13), append(rec(recordCCS, []byte{1}), rec(recordAppData, make([]byte, 500))...)...),
			nil, "", "ServerHello", func(f *flight) bool { return f.hello && f.encrypted && f.version == 0x0304 && !f.done }, false},
		{"hello retry", append(rec(recordHandshake, hrr), rec(recordHandshake, sh13)...), nil, "", "HelloRetryRequest, ServerHello",
			func(f *flight) bool { return f.retry && f.hello }, false},
		{"second hello retry", append(rec(recordHandshake, hrr), rec(recordHandshake, hrr)...), errBadHandshake, "a second HelloRetryRequest", "", nil, false},
		{"alert first", rec(recordAlert, []byte{2, 40}), errServerAlert, "TLS alert handshake_failure (40)", "nothing", nil, false},
		{"warning alert", rec(recordAlert, []byte{1, 112}), errServerAlert, "unrecognized_name (112) at warning level", "", nil, false},
		{"unknown alert", rec(recordAlert, []byte{2, 200}), errServerAlert, "alert (200)", "", nil, false},
		{"alert after hello", append(rec(recordHandshake, sh12), rec(recordAlert, []byte{2, 70})...), errServerAlert, "protocol_version (70)", "ServerHello", nil, false},
		{"short alert", rec(recordAlert, []byte{2}), errBadRecord, "too short", "", nil, false},
		{"http", []byte("HTTP/1.1 400 Bad Request\r\n"), errNotTLS, "not TLS", "", nil, false},
		{"sslv2 style", []byte{0x80, 0x2e, 0x04, 0x00, 0x01, 0x00}, errNotTLS, "", "", nil, false},
		{"app data first", rec(recordAppData, []byte{1}), errNotTLS, "", "", nil, false},
		{"bad record type later", append(rec(recordHandshake, sh12), 0x30, 3, 3, 0, 1, 0), errBadRecord, "type 48", "", nil, false},
		{"record too long", []byte{22, 3, 3, 0x48, 0x01}, errRecordTooLong, "18433 bytes", "", nil, false},
		{"longest record allowed", append([]byte{22, 3, 3, 0x48, 0x00}, msg(msgServerHello, make([]byte, 18428))...), errBadHandshake, "ServerHello of 18428 bytes", "", nil, false},
		{"empty handshake record", rec(recordHandshake), errBadRecord, "empty", "", nil, false},
		{"certificate before hello", rec(recordHandshake, cert), errBadHandshake, "Certificate before the ServerHello", "", nil, false},
		{"second hello", rec(recordHandshake, sh12, sh12), errBadHandshake, "a second ServerHello", "", nil, false},
		{"short hello", rec(recordHandshake, msg(msgServerHello, []byte{3, 3, 1})), errBadHandshake, "malformed ServerHello (short)", "", nil, false},
		{"hello bad extensions", rec(recordHandshake, msg(msgServerHello, append(serverHello(0x0303, 1, nil), 0, 9, 1))), errBadHandshake, "extensions length", "", nil, false},
		{"handshake in clear after 1.3 hello", append(rec(recordHandshake, sh13), rec(recordHandshake, done)...), errBadRecord, "after the keys changed", "", nil, false},
		{"cut in a header", full12[:3], nil, "", "nothing", func(f *flight) bool { return !f.hello }, true},
		{"cut in a record", full12[:50], nil, "", "ServerHello", func(f *flight) bool { return f.hello && !f.done }, true},
		{"cut between records", rec(recordHandshake, sh12), nil, "", "ServerHello", func(f *flight) bool { return f.hello && !f.done }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, then one byte at a time: the verdict must not depend
			// on how the network cut the stream.
			for _, step := range []int{len(tt.in), 1, 7} {
				var f flight
				var err error
				for b := tt.in; len(b) > 0 && err == nil; b = b[min(step, len(b)):] {
					err = f.feed(b[:min(step, len(b))])
				}
				if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
					t.Fatalf("step %d: err %v, want %v", step, err, tt.err)
				}
				if !strings.Contains(f.faultMsg, tt.fault) {
					t.Errorf("step %d: fault %q, want %q in it", step, f.faultMsg, tt.fault)
				}
				if tt.flight != "" && f.flightText() != tt.flight {
					t.Errorf("step %d: flight %q, want %q", step, f.flightText(), tt.flight)
				}
				if tt.check != nil && !tt.check(&f) {
					t.Errorf("step %d: state %+v", step, f)
				}
				if tt.err == nil && f.partial() != tt.partial {
					t.Errorf("step %d: partial %v", step, f.partial())
				}
			}
		})
	}
}

// FuzzFlight: any bytes in any chunks give the same outcome, memory stays
// bounded, and a fault, once found, sticks.
func FuzzFlight(f *testing.F) {
	f.Add(rec(recordHandshake, msg(msgServerHello, serverHello(0x0303, 0xc02f, nil)), msg(msgServerHelloDone, nil)), uint8(1))
	f.Add(append(rec(recordHandshake, msg(msgServerHello, serverHello(0x0304, 0x1301, helloRetryRandom))), rec(recordHandshake, msg(msgServerHello, serverHello(0x0304, 0x1301, nil)))...), uint8(3))
	f.Add(rec(recordAlert, []byte{2, 40}), uint8(0))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n"), uint8(5))
	f.Add([]byte{22, 3, 3, 0x48, 0x01}, uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		var whole, parts flight
		errWhole := whole.feed(in)
		var errParts error
		n := int(step%16) + 1
		for b := in; len(b) > 0; b = b[min(n, len(b)):] {
			if errParts = parts.feed(b[:min(n, len(b))]); errParts != nil {
				break
			}
		}
		if (errWhole == nil) != (errParts == nil) || (errWhole != nil && errWhole.Error() != errParts.Error()) || whole.faultMsg != parts.faultMsg {
			t.Fatalf("whole: %v %q; in chunks of %d: %v %q", errWhole, whole.faultMsg, n, errParts, parts.faultMsg)
		}
		if whole.done != parts.done || whole.hello != parts.hello || whole.version != parts.version || whole.flightText() != parts.flightText() {
			t.Fatalf("state differs: whole %+v, chunks %+v", whole, parts)
		}
		if cap(whole.body) > maxHelloLen || len(whole.first) > maxFirst || len(whole.seen) > maxSeen || len(whole.abuf) > 2 {
			t.Fatalf("kept too much: body %d first %d seen %d", cap(whole.body), len(whole.first), len(whole.seen))
		}
		if errWhole != nil && whole.feed([]byte{22}) != errWhole {
			t.Fatal("a fault did not stick")
		}
		if strings.ContainsAny(whole.faultMsg, "\r\n|") {
			t.Fatalf("fault %q unfit for a summary", whole.faultMsg)
		}
	})
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
	f.Add(rec(recordHandshake, msg(msgServerHello, serverHello(0x0303, 0xc02f, nil)), msg(msgServerHelloDone, nil)), uint8(0))
	f.Add(rec(recordHandshake, msg(msgServerHello, serverHello(0x0304, 0x1301, nil))), uint8(0))
	f.Add(rec(recordAlert, []byte{2, 40}), uint8(0))
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
