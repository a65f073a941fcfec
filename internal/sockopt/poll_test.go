package sockopt

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// dialed is a connection to a loopback listener made with o, and the
// listener's end of it; both are closed when the test ends.
func dialed(t *testing.T, o Options) (c, peer net.Conn) {
	t.Helper()
	addr, accepted := listen(t)
	c, err := o.DialTCP(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	peer = <-accepted
	t.Cleanup(func() { peer.Close() })
	return c, peer
}

// closedPort is a loopback port nothing listens on (bound, never listening,
// so no other test can take it while it is held).
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*syscall.SockaddrInet4).Port))
}

// TestPollConnLikeNet: what the probes rely on behaves the same in both
// modes: data both ways, EOF, refusal, a read deadline, a passed deadline
// with data waiting, a deadline moved
// into the past from another goroutine (a cancelled context), cancellation
// of the connect itself, and UDP with ICMP port unreachable.
func TestPollConnLikeNet(t *testing.T) {
	for _, m := range modes {
		o := Options{Poll: m.poll}
		t.Run(m.name+"/exchange and EOF", func(t *testing.T) {
			c, peer := dialed(t, o)
			go func() {
				buf := make([]byte, 5)
				io.ReadFull(peer, buf)
				peer.Write(append(buf, " back"...))
				peer.Close()
			}()
			if _, err := c.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil || string(got) != "hello back" {
				t.Errorf("read %q, %v", got, err)
			}
		})
		t.Run(m.name+"/refused", func(t *testing.T) {
			_, err := o.DialTCP(context.Background(), closedPort(t))
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("err = %v, want ECONNREFUSED", err)
			}
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "dial" {
				t.Errorf("err = %#v, want a dial *net.OpError", err)
			}
		})
		t.Run(m.name+"/read deadline", func(t *testing.T) {
			c, _ := dialed(t, o)
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			start := time.Now()
			_, err := c.Read(make([]byte, 10))
			var ne net.Error
			if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("err = %v, want a timeout", err)
			}
			if took := time.Since(start); took < 40*time.Millisecond || took > time.Second {
				t.Errorf("read returned after %v, want about 50 ms", took)
			}
		})
		t.Run(m.name+"/deadline moved by another goroutine", func(t *testing.T) {
			c, _ := dialed(t, o)
			ctx, cancel := context.WithCancel(context.Background())
			stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
			defer stop()
			time.AfterFunc(50*time.Millisecond, cancel)
			start := time.Now()
			_, err := c.Read(make([]byte, 10))
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("err = %v, want a timeout", err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("the blocked read ended %v after the cancel", took)
			}
		})
		t.Run(m.name+"/deadline passed, data waiting", func(t *testing.T) {
			// A cancelled probe must stop reading a peer that keeps sending.
			c, peer := dialed(t, o)
			peer.Write([]byte("more"))
			time.Sleep(20 * time.Millisecond) // queued on our side
			c.SetReadDeadline(time.Unix(1, 0))
			if n, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("read %d bytes, err = %v; want a timeout", n, err)
			}
			c.SetWriteDeadline(time.Unix(1, 0))
			if n, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("wrote %d bytes, err = %v; want a timeout", n, err)
			}
		})
		t.Run(m.name+"/connect cancelled", func(t *testing.T) {
			// A full listen queue leaves a connect waiting: SYNs to it go
			// unanswered.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			addr := netip.MustParseAddrPort(ln.Addr().String())
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			start := time.Now()
			for time.Since(start) < 5*time.Second {
				c, err := o.DialTCP(ctx, addr)
				if err != nil {
					if ctx.Err() == nil {
						t.Fatalf("dial: %v", err)
					}
					if !errors.Is(err, context.Canceled) {
						t.Errorf("err = %v, want context.Canceled", err)
					}
					return
				}
				held = append(held, c)
			}
			t.Fatal("no connect ever waited")
		})
		t.Run(m.name+"/udp port unreachable", func(t *testing.T) {
			c, err := o.DialUDP(context.Background(), closedUDP(t))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte("x"))
			if _, err := c.Read(make([]byte, 10)); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("err = %v, want ECONNREFUSED (ICMP port unreachable)", err)
			}
		})
	}
}

func closedUDP(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(pc.LocalAddr().String())
	pc.Close()
	return addr
}

// TestPollConnSyscallConn: code that peeks at the socket itself (the FTP
// probe's check for unasked replies) finds it in both modes.
func TestPollConnSyscallConn(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c, peer := dialed(t, Options{Poll: m.poll})
			peer.Write([]byte("queued"))
			sc, ok := c.(syscall.Conn)
			if !ok {
				t.Fatalf("%T is not a syscall.Conn", c)
			}
			rc, err := sc.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var buf [16]byte
			var n int
			err = rc.Read(func(fd uintptr) bool {
				n, _, err = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
				return err != syscall.EAGAIN
			})
			if err != nil || string(buf[:n]) != "queued" {
				t.Errorf("peeked %q, %v", buf[:n], err)
			}
		})
	}
}

// TestDialFamilies: both families connect, to the port asked (the raw
// connect builds its own sockaddr, port in network order), and a read
// waiting when the socket is closed ends at once with net.ErrClosed.
func TestDialFamilies(t *testing.T) {
	for _, m := range modes {
		for _, network := range []string{"tcp4", "tcp6"} {
			t.Run(m.name+"/"+network, func(t *testing.T) {
				host := "127.0.0.1:0"
				if network == "tcp6" {
					host = "[::1]:0"
				}
				ln, err := net.Listen(network, host)
				if err != nil {
					t.Skipf("no %s loopback: %v", network, err)
				}
				defer ln.Close()
				accepted := make(chan net.Conn, 1)
				go func() {
					if c, err := ln.Accept(); err == nil {
						accepted <- c
					}
				}()
				addr := netip.MustParseAddrPort(ln.Addr().String())
				c, err := Options{Poll: m.poll}.DialTCP(context.Background(), addr)
				if err != nil {
					t.Fatal(err)
				}
				peer := <-accepted
				defer peer.Close()
				if got := netip.MustParseAddrPort(peer.RemoteAddr().String()); got.String() != c.LocalAddr().String() {
					t.Errorf("the listener sees %v, the dialer says it is %v", got, c.LocalAddr())
				}
				if got := c.RemoteAddr().String(); got != addr.String() {
					t.Errorf("RemoteAddr %v, want %v", got, addr)
				}
				errc := make(chan error, 1)
				go func() {
					_, err := c.Read(make([]byte, 1))
					errc <- err
				}()
				time.Sleep(20 * time.Millisecond) // the read is waiting
				c.Close()
				select {
				case err := <-errc:
					if !errors.Is(err, net.ErrClosed) {
						t.Errorf("read after Close: %v, want net.ErrClosed", err)
					}
				case <-time.After(time.Second):
					t.Fatal("a waiting read did not end when the socket was closed")
				}
			})
		}
	}
}
