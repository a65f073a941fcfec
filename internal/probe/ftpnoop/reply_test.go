package ftpnoop

import (
	"bufio"
	"context"
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

func TestReadReply(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		code  int
		lines int
		err   string // "" for none
	}{
		{"single", "220 ready\r\n", 220, 1, ""},
		{"bare code", "200\r\n", 200, 1, ""},
		{"lf only", "220 ready\n", 220, 1, ""},
		{"multi-line", "220-a\r\n220-b\r\n220 c\r\n", 220, 3, ""},
		{"multi-line with free text", "220-a\r\n  indented\r\n220x not the end\r\n220 end\r\n", 220, 4, ""},
		{"other code does not end", "220-a\r\n230 no\r\n220 yes\r\n", 220, 3, ""},
		{"bare code ends multi-line", "211-a\r\n211\r\n", 211, 2, ""},
		{"next reply left unread", "220 a\r\n200 b\r\n", 220, 1, ""},
		{"empty", "", 0, 0, "EOF"},
		{"cut short", "220-a\r\n220-b", 220, 2, "unexpected EOF"},
		{"no code", "SSH-2.0-OpenSSH\r\n", 0, 1, "first line does not start with a code"},
		{"code 6xx", "600 no\r\n", 0, 1, "does not start with a code"},
		{"code then junk", "220x\r\n", 0, 1, "does not start with a code"},
		{"two digits", "22 x\r\n", 0, 1, "does not start with a code"},
		{"long line", "220 " + strings.Repeat("a", 3000) + "\r\n", 0, 1, "line longer than 2048 bytes"},
		{"long reply", "220-x\r\n" + strings.Repeat("220-"+strings.Repeat("a", 1000)+"\r\n", 20), 220, 0, "reply longer than 16 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp, err := readReply(bufio.NewReader(strings.NewReader(tt.in)))
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if rp.code != tt.code || (tt.lines > 0 && len(rp.lines) != tt.lines) {
				t.Errorf("code %d with %d lines, want %d with %d", rp.code, len(rp.lines), tt.code, tt.lines)
			}
		})
	}
}

// FuzzReadReply: any bytes give a reply with a valid code or an error,
// within the bounds, never a panic.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"220 ready\r\n", "220-a\r\n220 b\r\n", "120 later\r\n", "421-busy\n421 busy\n", "\x00\x01", "220-" + strings.Repeat("x", 3000)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rp, err := readReply(bufio.NewReaderSize(strings.NewReader(string(in)), 4096))
		total := 0
		for _, l := range rp.lines {
			total += len(l)
			if len(l) > maxLine {
				t.Fatalf("line of %d bytes kept", len(l))
			}
		}
		if total > maxReply+maxLine {
			t.Fatalf("reply of %d bytes kept", total)
		}
		if err == nil && (rp.code < 100 || rp.code > 599 || len(rp.lines) == 0) {
			t.Fatalf("reply %+v without error", rp)
		}
		if errors.Is(err, errNotFTP) && len(rp.lines) == 0 {
			t.Fatalf("%v with nothing to quote", err)
		}
	})
}

// sessionWith runs the dialogue against a loopback peer that sends script,
// half-closes, and reads whatever comes until the probe closes.
func sessionWith(t testing.TB, o *Options, script string) probe.Result {
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
		c.Write([]byte(script))
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	p := &run{t: probe.Target{Host: "192.0.2.1", Addr: netip.MustParseAddrPort("192.0.2.1:21"), Log: probe.NewLog(2)}, o: o, addr: "192.0.2.1:21", start: time.Now()}
	return p.session(ctx, client)
}

// FuzzSession: whatever the server says, a verdict in time, never
// UNKNOWN, fit for the first line, and OK only after a 220 greeting.
func FuzzSession(f *testing.F) {
	for _, s := range []string{"220 hi\r\n200 ok\r\n221 bye\r\n", "220-a\r\n220 b\r\n530 login\r\n", "220 x\r\n331 pw\r\n230 in\r\n200 ok\r\n", "421 busy\r\n", "120 later\r\n", "220 x\r\n500 no\r\n"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, script []byte, login bool) {
		o := &Options{}
		if login {
			o.User, o.Password = "anonymous", "x@"
		}
		start := time.Now()
		r := sessionWith(t, o, string(script))
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("verdict after %v", took)
		}
		if r.State != exitcode.OK && r.State != exitcode.Critical {
			t.Fatalf("state %v: %s", r.State, r.Summary)
		}
		if r.Summary == "" || strings.ContainsAny(r.Summary, "\n\r|") {
			t.Fatalf("summary %q unfit for the first line", r.Summary)
		}
		if r.State == exitcode.OK && !strings.HasPrefix(string(script), "220") {
			t.Fatalf("OK without a 220 greeting: %q: %s", script, r.Summary)
		}
	})
}

func TestSession(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		script  string
		state   exitcode.State
		summary string
	}{
		{"noop 250", Options{}, "220 x\r\n250 fine\r\n", exitcode.OK, "NOOP 250 from 192.0.2.1:21"},
		{"530 with login is not ok", Options{User: "u", Password: "p"}, "220 x\r\n230 in\r\n530 no\r\n", exitcode.Critical, `NOOP at 192.0.2.1:21 answered "530 no"`},
		{"user alone logs in", Options{User: "u"}, "220 x\r\n230 in\r\n200 ok\r\n", exitcode.OK, "as u"},
		{"account needed", Options{User: "u", Password: "p"}, "220 x\r\n331 pw\r\n332 acct\r\n", exitcode.Critical, `refused the login as u: "332 acct"`},
		{"closed after greeting", Options{}, "220 x\r\n", exitcode.Critical, "NOOP at 192.0.2.1:21: connection closed by peer"},
		{"closed mid reply", Options{}, "220 x\r\n200-a\r\n", exitcode.Critical, `connection closed by peer after "200-a"`},
		{"greeting 500 quoted", Options{}, "500 who?\r\n", exitcode.Critical, `greeting from 192.0.2.1:21 is not 220: "500 who?"`},
		{"control chars quoted", Options{}, "220 \x1b[31mred|x\r\n200 ok\r\n", exitcode.OK, `; "220 \x1b[31mred\x7cx"`},
		{"530 before login", Options{}, "220 x\r\n530 Please login with USER and PASS.\r\n", exitcode.OK, "NOOP 530 (login needed; the command loop answers) from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			r := sessionWith(t, &o, tt.script)
			if r.State != tt.state || !strings.Contains(r.Summary, tt.summary) {
				t.Errorf("got %v %q, want %v containing %q", r.State, r.Summary, tt.state, tt.summary)
			}
		})
	}
}
