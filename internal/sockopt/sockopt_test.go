package sockopt

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseMark(t *testing.T) {
	good := map[string]uint32{"0": 0, "1": 1, "512": 512, "0x200": 512, "0X1f": 31, "4294967295": 1<<32 - 1, "0xffffffff": 1<<32 - 1}
	for in, want := range good {
		got, err := ParseMark(in)
		if err != nil || got != want {
			t.Errorf("ParseMark(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "0x", "010", "4294967296", "0x1ffffffff", "abc", "1.5", " 1", "0x+1"} {
		if got, err := ParseMark(in); err == nil {
			t.Errorf("ParseMark(%q) = %d, want error", in, got)
		}
	}
}

func TestParseBind(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.2": "127.0.0.2", "::1": "::1", "[::1]": "::1", "::ffff:10.0.0.1": "10.0.0.1"} {
		got, err := ParseBind(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseBind(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "localhost", "10.0.0.1:80", "[::1"} {
		if _, err := ParseBind(in); err == nil {
			t.Errorf("ParseBind(%q) accepted", in)
		}
	}
}

func listen(t *testing.T) (netip.AddrPort, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String()), accepted
}

// modes are the two ways of waiting on a socket: Go's netpoller (the
// daemon) and ppoll from the calling goroutine (a check process). Every
// dial test runs in both.
var modes = []struct {
	name string
	poll bool
}{{"netpoller", false}, {"ppoll", true}}

func TestDialBindsSource(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			addr, accepted := listen(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// All of 127/8 is on lo, so 127.0.0.2 is a source address that
			// differs from the kernel's own choice (127.0.0.1).
			c, err := Options{Bind: netip.MustParseAddr("127.0.0.2"), Poll: m.poll}.DialTCP(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			peer := <-accepted
			defer peer.Close()
			if got := netip.MustParseAddrPort(peer.RemoteAddr().String()).Addr(); got.String() != "127.0.0.2" {
				t.Errorf("server saw the probe from %v, want 127.0.0.2", got)
			}
			if got := c.LocalAddr().String(); got != peer.RemoteAddr().String() {
				t.Errorf("LocalAddr %s, the server saw %s", got, peer.RemoteAddr())
			}
		})
	}
}

func TestDialBindNotLocal(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			addr, _ := listen(t)
			// 192.0.2.1 (TEST-NET-1) is on no interface here; the bind fails
			// locally before any packet leaves.
			_, err := Options{Bind: netip.MustParseAddr("192.0.2.1"), Poll: m.poll}.DialTCP(context.Background(), addr)
			if !errors.Is(err, ErrSetup) {
				t.Fatalf("err = %v, want ErrSetup", err)
			}
		})
	}
}

// fdOf is the socket behind a probe's connection.
func fdOf(t *testing.T, c net.Conn) int {
	t.Helper()
	if pc, ok := c.(*pollConn); ok {
		return pc.fd
	}
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

func TestDialSetsMark(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			addr, accepted := listen(t)
			c, err := Options{Mark: 0x2a, Poll: m.poll}.DialTCP(context.Background(), addr)
			if os.Geteuid() != 0 && errors.Is(err, ErrSetup) {
				t.Skip("SO_MARK needs CAP_NET_ADMIN; the integration tests run it as root")
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			(<-accepted).Close()
			mark, err := unix.GetsockoptInt(fdOf(t, c), unix.SOL_SOCKET, unix.SO_MARK)
			if err != nil || mark != 0x2a {
				t.Errorf("SO_MARK on the probe's socket = %#x, %v; want 0x2a", mark, err)
			}
		})
	}
}

func TestMarkWithoutPrivilegeIsSetupError(t *testing.T) {
	err := MarkError(7, unix.EPERM)
	if !errors.Is(err, ErrSetup) {
		t.Fatalf("%v does not wrap ErrSetup", err)
	}
	if want := "needs CAP_NET_ADMIN"; !strings.Contains(err.Error(), want) {
		t.Errorf("%q does not say %q", err, want)
	}
}

// TestPollTimeoutBounded: a single ppoll as long as the deadline ended up
// to 0.1% of it late (8 ms at -t 8), after the process's watchdog.
func TestPollTimeoutBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		left time.Duration
		want time.Duration
	}{
		{"short", 30 * time.Millisecond, 30 * time.Millisecond},
		{"at the bound", maxWait, maxWait},
		{"long", 8 * time.Second, maxWait},
		{"very long", 24 * time.Hour, maxWait},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := time.Duration(pollTimeout(int64(tc.left)).Nano()); got != tc.want {
				t.Errorf("pollTimeout(%v) = %v, want %v", tc.left, got, tc.want)
			}
		})
	}
}
