// Package rawconn gives the daemon's fronts connections that read and
// write with raw system calls in Go's poller.
//
// net.TCPConn reads and writes through ordinary system calls, and one made
// while every P is idle wakes the runtime's monitor (sysmon), which then
// polls every 20 us until the process is idle again. A daemon answering a
// load balancer's steady asks is idle between nearly every two of them,
// so each ask paid that wake-up and its context switches, as the probe
// sockets did before they moved to raw system calls (internal/sockopt).
// A read or write of a non-blocking socket cannot block, so it needs
// none of what an ordinary system call tells the scheduler.
package rawconn

import (
	"io"
	"net"
	"os"
	"syscall"

	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// Listener wraps ln so that the TCP connections it accepts are Conns.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// Wrap is c as a Conn if it is a TCP connection in Go's poller, else c.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &Conn{TCPConn: tc, rc: rc}
}

// Conn is a TCP connection whose Read and Write are raw system calls;
// everything else (deadlines, Close, CloseWrite, addresses, SyscallConn)
// is the net.TCPConn's.
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn
}

func (c *Conn) Read(b []byte) (int, error) {
	n, err := sockopt.RawRead(c.rc, b)
	return n, c.opError("read", err)
}

func (c *Conn) Write(b []byte) (int, error) {
	n, err := sockopt.RawWrite(c.rc, b)
	return n, c.opError("write", err)
}

// opError words err as net.TCPConn would: io.EOF as it is, the rest in a
// *net.OpError (net/http and the fronts test for timeouts through it).
func (c *Conn) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if e, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError(op, e)
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
