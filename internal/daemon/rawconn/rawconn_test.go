package rawconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair is a loopback TCP connection: ours (wrapped if raw) and the peer.
func pair(t *testing.T, raw bool) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if raw {
		ln = Listener(ln)
	}
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ours, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ours.Close(); peer.Close() })
	if _, isRaw := ours.(*Conn); isRaw != raw {
		t.Fatalf("accepted a %T", ours)
	}
	return ours, peer
}

// TestConnLikeNet: a Conn reads, writes, times out, ends and fails as the
// net.TCPConn it wraps would; each case runs on both.
func TestConnLikeNet(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, ours, peer net.Conn)
	}{
		{"read what the peer wrote", func(t *testing.T, ours, peer net.Conn) {
			peer.Write([]byte("GET / HTTP/1.1\r\n"))
			b := make([]byte, 64)
			n, err := ours.Read(b)
			if err != nil || string(b[:n]) != "GET / HTTP/1.1\r\n" {
				t.Errorf("read %q, %v", b[:n], err)
			}
		}},
		{"EOF when the peer closes", func(t *testing.T, ours, peer net.Conn) {
			peer.Write([]byte("x"))
			peer.Close()
			b, err := io.ReadAll(ours)
			if err != nil || string(b) != "x" {
				t.Errorf("ReadAll %q, %v", b, err)
			}
			if n, err := ours.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("read after EOF: %d, %v", n, err)
			}
		}},
		{"an empty read is not EOF", func(t *testing.T, ours, peer net.Conn) {
			if n, err := ours.Read(nil); n != 0 || err != nil {
				t.Errorf("Read(nil): %d, %v", n, err)
			}
		}},
		{"a read deadline times out", func(t *testing.T, ours, peer net.Conn) {
			ours.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			start := time.Now()
			_, err := ours.Read(make([]byte, 1))
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("read past the deadline: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the deadline ended the read after %v", d)
			}
		}},
		{"a passed deadline fails a read with data waiting", func(t *testing.T, ours, peer net.Conn) {
			peer.Write([]byte("x"))
			time.Sleep(10 * time.Millisecond)
			ours.SetReadDeadline(time.Now().Add(-time.Second))
			if _, err := ours.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("read: %v", err)
			}
		}},
		{"Close ends a waiting read", func(t *testing.T, ours, peer net.Conn) {
			errc := make(chan error, 1)
			go func() { _, err := ours.Read(make([]byte, 1)); errc <- err }()
			time.Sleep(20 * time.Millisecond)
			ours.Close()
			select {
			case err := <-errc:
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("read ended by Close: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not end the read")
			}
		}},
		{"a large write is written whole", func(t *testing.T, ours, peer net.Conn) {
			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB: many partial writes
			got := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(peer); got <- b }()
			n, err := ours.Write(big)
			if n != len(big) || err != nil {
				t.Errorf("wrote %d of %d: %v", n, len(big), err)
			}
			ours.Close()
			if b := <-got; !bytes.Equal(b, big) {
				t.Errorf("the peer read %d bytes, not what was written", len(b))
			}
		}},
		{"a write deadline times out", func(t *testing.T, ours, peer net.Conn) {
			ours.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			big := make([]byte, 64<<20) // the peer never reads
			n, err := ours.Write(big)
			if !errors.Is(err, os.ErrDeadlineExceeded) || n >= len(big) {
				t.Errorf("wrote %d: %v", n, err)
			}
		}},
		{"a write to a reset peer fails", func(t *testing.T, ours, peer net.Conn) {
			peer.(interface{ SetLinger(int) error }).SetLinger(0)
			peer.Close() // RST
			time.Sleep(20 * time.Millisecond)
			var err error
			for range 10 {
				if _, err = ours.Write([]byte("HTTP/1.1 200 OK\r\n\r\n")); err != nil {
					break
				}
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "write" ||
				!(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
				t.Errorf("write to a reset peer: %#v", err)
			}
		}},
	}
	for _, tc := range tests {
		for _, raw := range []bool{false, true} {
			name := tc.name + "/net"
			if raw {
				name = tc.name + "/raw"
			}
			t.Run(name, func(t *testing.T) {
				ours, peer := pair(t, raw)
				tc.run(t, ours, peer)
			})
		}
	}
}

// TestWrapOnlyTCP: what is not a TCP connection in the poller is left as
// it is.
func TestWrapOnlyTCP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if c := Wrap(a); c != a {
		t.Errorf("a pipe wrapped: %T", c)
	}
	ours, _ := pair(t, true)
	if _, ok := ours.(interface{ CloseWrite() error }); !ok {
		t.Error("CloseWrite lost: net/http half-closes through it")
	}
	if _, ok := ours.(syscall.Conn); !ok {
		t.Error("SyscallConn lost: conncap sheds through it")
	}
}
