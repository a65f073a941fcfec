package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

func TestFail(t *testing.T) {
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	tests := []struct {
		name    string
		err     error
		state   exitcode.State
		timeout bool
		summary string
	}{
		{"refused", opErr(syscall.ECONNREFUSED), exitcode.Critical, false, "connect: connection refused"},
		{"icmp v4", opErr(syscall.EHOSTUNREACH), exitcode.Critical, false, "connect: host unreachable (ICMP)"},
		{"icmp v6 prohibited", opErr(syscall.EACCES), exitcode.Critical, false, "connect: administratively prohibited (ICMP)"},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), exitcode.Critical, false, "connect: connection reset by peer"},
		{"eof", io.ErrUnexpectedEOF, exitcode.Critical, false, "connect: connection closed by peer"},
		{"deadline", context.DeadlineExceeded, exitcode.Critical, true, "connect: timed out"},
		{"socket deadline", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, exitcode.Critical, true, "connect: timed out"},
		{"cancelled", context.Canceled, exitcode.Critical, true, "connect: timed out"},
		{"setup", fmt.Errorf("%w: SO_MARK: nope", sockopt.ErrSetup), exitcode.Unknown, false, "connect: socket setup: SO_MARK: nope"},
		{"peer text cleaned", errors.New("bad \"a|b\"\r\n"), exitcode.Critical, false, `connect: bad "a?b"??`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Fail("connect", tt.err)
			if r.State != tt.state || r.Timeout != tt.timeout || r.Summary != tt.summary || r.Err != tt.err {
				t.Errorf("got %+v, want state %v timeout %v summary %q", r, tt.state, tt.timeout, tt.summary)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := map[string]struct {
		in   string
		max  int
		want string
	}{
		"plain":     {"220 ready", 32, `"220 ready"`},
		"controls":  {"a\x00\r\n\x7f\xff", 32, `"a\x00\r\n\x7f\xff"`},
		"pipe":      {"a|b", 32, `"a\x7cb"`},
		"quotes":    {`"\`, 32, `"\"\\"`},
		"truncated": {"abcdef", 3, `"abc"...`},
	}
	for name, tt := range tests {
		if got := Quote([]byte(tt.in), tt.max); got != tt.want {
			t.Errorf("%s: Quote(%q) = %s, want %s", name, tt.in, got, tt.want)
		}
	}
}

func FuzzQuote(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\n"), 16)
	f.Add([]byte{0, 1, 2, '|', 0xff}, 3)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		q := Quote(b, max)
		for _, c := range []byte(q) {
			if c < 0x20 || c >= 0x7f || c == '|' {
				t.Fatalf("Quote(%q) = %q holds byte %#x", b, q, c)
			}
		}
		if len(b) <= max && !strings.HasSuffix(q, `"`) {
			t.Fatalf("Quote(%q) = %q claims truncation", b, q)
		}
	})
}

func TestLogLevels(t *testing.T) {
	l := NewLog(1)
	l.Printf(1, "one %d", 1)
	l.Printf(2, "two")
	lines := l.Lines()
	if len(lines) != 1 || !strings.HasSuffix(lines[0], "] one 1") {
		t.Errorf("lines %q", lines)
	}
	l.Printf(1, "peer says \x1b[31mred\r\nX-Injected: 1\x7f\tok")
	if got := l.Lines()[1]; !strings.HasSuffix(got, "] peer says ?[31mred??X-Injected: 1?\tok") {
		t.Errorf("control bytes reach the trace: %q", got)
	}
	var nilLog *Log
	nilLog.Printf(1, "ignored")
	if nilLog.Enabled(1) || nilLog.Lines() != nil {
		t.Error("a nil Log must record nothing")
	}
}

func TestMillis(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"zero", 0, "0.00 ms"},
		{"under a microsecond", 999 * time.Nanosecond, "0.00 ms"},
		{"sub-millisecond", 412 * time.Microsecond, "0.41 ms"},
		{"rounds half to even as %.2f", 1005 * time.Microsecond, fmt.Sprintf("%.2f ms", 1.005)},
		{"just under 10 ms", 9999 * time.Microsecond, "10.00 ms"},
		{"tens of ms", 12345 * time.Microsecond, "12.3 ms"},
		{"just under a second", 999949 * time.Microsecond, "999.9 ms"},
		{"seconds", 1200 * time.Millisecond, "1.20 s"},
		{"negative", -3 * time.Millisecond, "-3.00 ms"},
		{"huge", 1 << 62, fmt.Sprintf("%.2f s", float64(time.Duration(1<<62).Microseconds())/1e6)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Millis(tc.d); got != tc.want {
				t.Errorf("Millis(%v) = %q, want %q", tc.d, got, tc.want)
			}
			if got := string(AppendMillis([]byte("x="), tc.d)); got != "x="+tc.want {
				t.Errorf("AppendMillis = %q", got)
			}
		})
	}
}
