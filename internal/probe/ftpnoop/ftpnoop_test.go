package ftpnoop

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient/gotls"
)

// trickle hands the probe one byte per read, so that nothing past a reply
// waits in the probe's buffer: what the server sent beyond it stays queued
// in the kernel, where the probe must find it too. It keeps the TCP
// connection's SyscallConn.
type trickle struct{ *net.TCPConn }

func (c trickle) Read(b []byte) (int, error) { return c.TCPConn.Read(b[:min(len(b), 1)]) }

// sessionWith runs the dialogue against a loopback peer that sends
// replies[0] on connect and replies[i] when the i-th command line arrives,
// so that a reply comes only when asked unless one element holds more
// than one. After the last it half-closes and reads until the probe
// closes.
func sessionWith(t testing.TB, o *Options, oneByte bool, replies ...string) probe.Result {
	o.Client.TLS = gotls.TLS{} // every part, as lbcheck has them
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
		r := bufio.NewReader(c)
		for i, rp := range replies {
			if i > 0 {
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
			}
			c.Write([]byte(rp))
		}
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, r)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if oneByte {
		client = trickle{client.(*net.TCPConn)}
	}
	p := &run{t: probe.Target{Host: "192.0.2.1", Addr: netip.MustParseAddrPort("192.0.2.1:21"), Log: probe.NewLog(2)}, o: o, addr: "192.0.2.1:21", start: time.Now()}
	return p.session(ctx, client)
}

func TestSession(t *testing.T) {
	login := Options{User: "u", Password: "p"}
	tests := []struct {
		name    string
		o       Options
		oneByte bool
		replies []string
		state   exitcode.State
		summary string
	}{
		{"noop 200", Options{}, false, []string{"220 x\r\n", "200 fine\r\n"}, exitcode.OK, `NOOP 200 from 192.0.2.1:21 in `},
		{"530 before login", Options{}, false, []string{"220 x\r\n", "530 Please login with USER and PASS.\r\n"}, exitcode.OK, "NOOP 530 (login needed; the command loop answers) from"},
		{"login", login, false, []string{"220 x\r\n", "331 pw\r\n", "230 in\r\n", "200 ok\r\n"}, exitcode.OK, "NOOP 200 from 192.0.2.1:21 in "},
		{"user alone logs in", Options{User: "u"}, false, []string{"220 x\r\n", "230 in\r\n", "200 ok\r\n"}, exitcode.OK, ", as u;"},
		{"pass 202 is a login", login, false, []string{"220 x\r\n", "331 pw\r\n", "202 not needed\r\n", "200 ok\r\n"}, exitcode.OK, ", as u;"},
		{"530 with login is not ok", login, false, []string{"220 x\r\n", "230 in\r\n", "530 no\r\n"}, exitcode.Critical, `NOOP at 192.0.2.1:21 answered "530 no"`},
		{"account needed", login, false, []string{"220 x\r\n", "331 pw\r\n", "332 acct\r\n"}, exitcode.Critical, `refused the login as u: "332 acct"`},
		{"closed after greeting", Options{}, false, []string{"220 x\r\n"}, exitcode.Critical, "NOOP at 192.0.2.1:21: connection closed by peer"},
		{"closed mid reply", Options{}, false, []string{"220 x\r\n", "200-a\r\n"}, exitcode.Critical, `connection closed by peer after "200-a"`},
		{"greeting 500 quoted", Options{}, false, []string{"500 who?\r\n"}, exitcode.Critical, `greeting from 192.0.2.1:21 is not 220: "500 who?"`},
		{"control chars quoted", Options{}, false, []string{"220 \x1b[31mred|x\r\n", "200 ok\r\n"}, exitcode.OK, `; "220 \x1b[31mred\x7cx"`},
		{"noop 500", Options{}, false, []string{"220 x\r\n", "500 Unknown command.\r\n"}, exitcode.Critical, `NOOP at 192.0.2.1:21 answered "500 Unknown command."`},

		// Item 1: a reply counts only if it came after its command.
		{"200 with the greeting, loop frozen", Options{}, false, []string{"220 x\r\n200 x\r\n"}, exitcode.Critical, `192.0.2.1:21 sent more than its greeting before any command: "200 x\r\n"`},
		{"200 queued in the kernel", Options{}, true, []string{"220 x\r\n200 x\r\n"}, exitcode.Critical, `192.0.2.1:21 sent more than its greeting before any command: "200 x\r\n"`},
		{"proxy greets twice", Options{}, false, []string{"220 proxy\r\n220 backend\r\n"}, exitcode.Critical, `sent more than its greeting before any command: "220 backend\r\n"`},
		{"proxy greets twice, one byte a read", Options{}, true, []string{"220 proxy\r\n220 backend\r\n"}, exitcode.Critical, `sent more than its greeting before any command: "220 backend\r\n"`},
		{"second greeting after noop", Options{}, false, []string{"220 proxy\r\n", "220 backend\r\n"}, exitcode.Critical, `NOOP at 192.0.2.1:21 answered "220 backend", not a reply to NOOP: a second greeting (a proxy?)`},
		{"login replies unasked", Options{User: "anonymous"}, false, []string{"220 x\r\n230 in\r\n200 ok\r\n"}, exitcode.Critical, `sent more than its greeting before any command: "230 in\r\n200 ok\r\n"`},
		{"login replies unasked, one byte a read", Options{User: "anonymous"}, true, []string{"220 x\r\n230 in\r\n200 ok\r\n"}, exitcode.Critical, `sent more than its greeting before any command: "230 in\r\n200 ok\r\n"`},
		{"noop reply with the user reply", login, false, []string{"220 x\r\n", "230 in\r\n200 ok\r\n"}, exitcode.Critical, `sent more than its reply to USER before the next command: "200 ok\r\n"`},
		{"noop reply with the pass reply", login, true, []string{"220 x\r\n", "331 pw\r\n", "230 in\r\n200 ok\r\n"}, exitcode.Critical, `sent more than its reply to PASS before the next command: "200 ok\r\n"`},
		{"user 202 is not a login", Options{User: "u"}, false, []string{"220 x\r\n", "202 whatever\r\n", "200 ok\r\n"}, exitcode.Critical, `192.0.2.1:21 answered USER with "202 whatever", not a reply to USER`},
		{"user 200 is not a login", Options{User: "u"}, false, []string{"220 x\r\n", "200 ok\r\n", "200 ok\r\n"}, exitcode.Critical, `answered USER with "200 ok", not a reply to USER`},
		{"pass 200 is not a login", login, false, []string{"220 x\r\n", "331 pw\r\n", "200 ok\r\n", "200 ok\r\n"}, exitcode.Critical, `answered PASS with "200 ok", not a reply to PASS`},
		{"user 530 refused", login, false, []string{"220 x\r\n", "530 not you\r\n"}, exitcode.Critical, `refused the login as u: "530 not you"`},
		{"data after 234, before the handshake", Options{AuthTLS: true}, false, []string{"220 x\r\n", "234 go\r\n200 ok\r\n"}, exitcode.Critical, `sent more than its reply to AUTH TLS before the TLS handshake: "200 ok\r\n"`},
		{"auth tls refused", Options{AuthTLS: true}, false, []string{"220 x\r\n", "534 no TLS here\r\n"}, exitcode.Critical, `192.0.2.1:21 refused AUTH TLS: "534 no TLS here"`},
		{"auth tls answered 200", Options{AuthTLS: true}, false, []string{"220 x\r\n", "200 sure\r\n"}, exitcode.Critical, `192.0.2.1:21 answered AUTH TLS with "200 sure", not a reply to AUTH TLS`},
		{"noop unanswered, quit answered", Options{}, false, []string{"220 x\r\n", "221 bye\r\n"}, exitcode.Critical, `answered "221 bye", not a reply to NOOP: the reply to QUIT (NOOP went unanswered?)`},

		// Item 2: NOOP's reply is 200; SMTP's is 250.
		{"noop 250 is smtp", Options{}, false, []string{"220 mail ESMTP\r\n", "250 2.0.0 Ok\r\n"}, exitcode.Critical, `NOOP at 192.0.2.1:21 answered "250 2.0.0 Ok", not a reply to NOOP: an SMTP server?`},
		{"noop 202", Options{}, false, []string{"220 x\r\n", "202 done\r\n"}, exitcode.Critical, `answered "202 done", not a reply to NOOP`},
		{"noop 250 after login", login, false, []string{"220 x\r\n", "331 pw\r\n", "230 in\r\n", "250 ok\r\n"}, exitcode.Critical, `answered "250 ok", not a reply to NOOP: an SMTP server?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			r := sessionWith(t, &o, tt.oneByte, tt.replies...)
			if r.State != tt.state || !strings.Contains(r.Summary, tt.summary) {
				t.Errorf("got %v %q\nwant %v containing %q", r.State, r.Summary, tt.state, tt.summary)
			}
		})
	}
}

// FuzzSession: whatever the server says, a verdict in time, never
// UNKNOWN, fit for the first line; OK only after a greeting of exactly
// one 220 reply with nothing queued behind it, and a NOOP answered 200
// (or 530 before login). The script is the server's replies, one per
// command, separated by '~'.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"220 hi\r\n~200 ok\r\n~221 bye\r\n", "220-a\r\n220 b\r\n~530 login\r\n", "220 x\r\n~331 pw\r\n~230 in\r\n~200 ok\r\n",
		"421 busy\r\n", "120 later\r\n", "220 x\r\n~500 no\r\n", "220 x\r\n200 x\r\n", "220 a\r\n220 b\r\n~200 x\r\n",
		"220 x\r\n230 in\r\n200 ok\r\n", "220 x\r\n~250 ok\r\n", "220 x\r\n~230 in\r\n200 ok\r\n",
	} {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, false)
		f.Add([]byte(s), false, true)
	}
	f.Fuzz(func(t *testing.T, script []byte, login, oneByte bool) {
		o := &Options{}
		if login {
			o.User, o.Password = "anonymous", "x@"
		}
		replies := strings.Split(string(script), "~")
		start := time.Now()
		r := sessionWith(t, o, oneByte, replies...)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("verdict after %v", took)
		}
		if r.State != exitcode.OK && r.State != exitcode.Critical {
			t.Fatalf("state %v: %s", r.State, r.Summary)
		}
		if r.Summary == "" || strings.ContainsAny(r.Summary, "\n\r|") {
			t.Fatalf("summary %q unfit for the first line", r.Summary)
		}
		if r.State != exitcode.OK {
			return
		}
		br := bufio.NewReader(strings.NewReader(replies[0]))
		if g, err := readReply(br); err != nil || g.code != 220 || br.Buffered() > 0 {
			t.Fatalf("OK without a greeting of one 220 reply alone: %q: %s", replies[0], r.Summary)
		}
		noop := 1
		if login {
			noop = 2 // USER answered 230, or 3: USER 331, PASS 230/202
			if strings.HasPrefix(replies[1], "331") || strings.HasPrefix(replies[1], "332") {
				noop = 3
			}
		}
		if len(replies) <= noop || !strings.HasPrefix(replies[noop], "200") && !(!login && strings.HasPrefix(replies[noop], "530")) {
			t.Fatalf("OK without NOOP answered 200 (or 530 before login): %q: %s", replies, r.Summary)
		}
	})
}
