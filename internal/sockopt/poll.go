package sockopt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A check process does one thing at a time, on one goroutine. Go's network
// poller costs it an epoll instance, its registrations and a scheduler
// round trip per wait; a socket waited on with ppoll(2) from the calling
// goroutine costs a system call. pollConn is such a socket behind the
// net.Conn interface the probes use, with the same deadline semantics:
// SetDeadline from another goroutine (a cancelled context's AfterFunc)
// wakes a wait at once, through one eventfd the process shares.
//
// The daemon's pollConn (Options.Poll false) waits in Go's poller instead,
// and reads, writes and connects with raw system calls, which cannot block
// on a non-blocking socket. An ordinary system call made while the
// runtime's monitor (sysmon) sleeps, every P idle, wakes it, and it then
// polls every 20 us while the probe runs: on this VM, where a context
// switch is dear, that was 30% of a watched HTTP probe's CPU through
// net.Dialer and net.TCPConn.

var (
	wakeOnce sync.Once
	wakeFD   = -1 // an eventfd every wait also polls; -1 until first needed
	wakeErr  error
	// waiting counts the waits in progress: a deadline set while none
	// waits needs no wake-up. A waiter counts itself before it reads its
	// deadline and a setter stores the deadline before it reads the count,
	// so one of them always sees the other.
	waiting atomic.Int32
)

// waker returns the eventfd that interrupts waits.
func waker() (int, error) {
	wakeOnce.Do(func() {
		wakeFD, wakeErr = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	})
	return wakeFD, wakeErr
}

// wake interrupts every wait in progress; they look at their deadlines
// again.
func wake() {
	if waiting.Load() == 0 {
		return
	}
	if fd, err := waker(); err == nil {
		var one = [8]byte{1}
		unix.Write(fd, one[:])
	}
}

type pollConn struct {
	fd      int
	network string // "tcp" or "udp"
	raddr   netip.AddrPort
	closed  atomic.Bool
	// In Go's poller (the daemon): file owns fd; nil for ppoll.
	file *os.File
	rc   syscall.RawConn
	// deadlines in Unix nanoseconds, 0 for none
	rdead, wdead atomic.Int64
}

// dialPoll opens a socket of the network's type and connects it to addr,
// waiting (with ppoll, or in Go's poller) until ctx's deadline or its
// cancellation.
func (o Options) dialPoll(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error) {
	family, typ := unix.AF_INET, unix.SOCK_STREAM
	if addr.Addr().Is6() {
		family = unix.AF_INET6
	}
	if network == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fail := func(op string, err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: netAddr(network, addr), Err: os.NewSyscallError(op, err)}
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: socket: %v", ErrSetup, err)
	}
	c := &pollConn{fd: fd, network: network, raddr: addr}
	if err := o.Control(network, "", rawConn{c}); err != nil { // the mark
		c.Close()
		return nil, err
	}
	if o.Bind.IsValid() {
		if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(o.Bind, 0))); err != nil {
			c.Close()
			if err := o.bindError(err); errors.Is(err, ErrSetup) {
				return nil, err
			}
			return nil, fail("bind", err)
		}
	}
	if !o.Poll {
		c.file = os.NewFile(uintptr(fd), "socket") // non-blocking: in the poller
		if c.rc, err = c.file.SyscallConn(); err == nil {
			// Only a file in the poller takes a deadline; one it refused
			// (epoll_ctl failed) could not wait at all.
			err = c.file.SetDeadline(time.Time{})
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%w: poller: %v", ErrSetup, err)
		}
	}
	if d, ok := ctx.Deadline(); ok {
		c.SetWriteDeadline(d)
	}
	// A cancelled context ends the wait for the connection at once.
	stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(time.Unix(0, 1)) })
	defer stop()
	if c.rc != nil {
		err = c.connect(addr)
	} else {
		err = unix.Connect(fd, sockaddr(addr))
		if err == unix.EINPROGRESS {
			if err = c.wait(unix.POLLOUT, &c.wdead); err == nil {
				var soerr int
				if soerr, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soerr != 0 {
					err = unix.Errno(soerr)
				}
			}
		}
	}
	if err != nil && ctx.Err() != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed)) {
		err = ctx.Err()
	}
	if err != nil {
		c.Close()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &net.OpError{Op: "dial", Net: network, Addr: netAddr(network, addr), Err: err}
		}
		return nil, fail("connect", err)
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}

// connect connects a socket in Go's poller: a raw connect(2), then, if it
// is under way, waits until the socket is writable and says it is
// connected (the poller may wake it spuriously, as net's connect knows).
func (c *pollConn) connect(addr netip.AddrPort) error {
	sa, n := rawSockaddr(addr)
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(c.fd), uintptr(unsafe.Pointer(sa)), uintptr(n))
	if e == 0 || e == unix.EISCONN {
		return nil
	}
	if e != unix.EINPROGRESS {
		return e
	}
	var cerr error
	err := c.rc.Write(func(fd uintptr) bool {
		soerr, err := rawSockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			cerr = err
			return true
		}
		switch e := unix.Errno(soerr); e {
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return false
		case 0, unix.EISCONN:
			// Connected, or not yet: on a veth or loopback the handshake
			// is often over before connect returns.
			return rawConnected(int(fd))
		default:
			cerr = e
			return true
		}
	})
	if err != nil {
		return err
	}
	return cerr
}

// rawSockaddr is addr as the kernel's sockaddr, for a raw connect(2).
func rawSockaddr(addr netip.AddrPort) (*unix.RawSockaddrInet6, uintptr) {
	var sa unix.RawSockaddrInet6 // room for either
	port := [2]byte{byte(addr.Port() >> 8), byte(addr.Port())}
	if addr.Addr().Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
		sa4.Family = unix.AF_INET
		sa4.Port = *(*uint16)(unsafe.Pointer(&port))
		sa4.Addr = addr.Addr().As4()
		return &sa, unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Port = *(*uint16)(unsafe.Pointer(&port))
	sa.Addr = addr.Addr().As16()
	if s6, ok := sockaddr(addr).(*unix.SockaddrInet6); ok {
		sa.Scope_id = s6.ZoneId
	}
	return &sa, unix.SizeofSockaddrInet6
}

func rawSockoptInt(fd, level, opt int) (int, error) {
	var v int32
	size := uint32(unsafe.Sizeof(v))
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&size)), 0)
	if e != 0 {
		return 0, e
	}
	return int(v), nil
}

// rawConnected says whether the socket has a peer (getpeername(2)).
func rawConnected(fd int) bool {
	var sa unix.RawSockaddrAny
	size := uint32(unsafe.Sizeof(sa))
	_, _, e := unix.RawSyscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&size)))
	return e == 0
}

// pollerIO is one read(2) or write(2) (trap) on the socket in the poller,
// as a raw system call: wait is its RawConn's Read or Write, which waits
// for the poller while the socket says EAGAIN (and keeps the deadline).
func pollerIO(wait func(func(uintptr) bool) error, trap uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n uintptr
	var e unix.Errno
	if err := wait(func(fd uintptr) bool {
		for {
			n, _, e = unix.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			if e != unix.EINTR {
				return e != unix.EAGAIN
			}
		}
	}); err != nil {
		return 0, err
	}
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// RawRead is one read(2) of a stream socket in Go's poller (rc is its
// SyscallConn, whose deadline it keeps) as a raw system call: the
// poller's wait without the monitor's wake-up an ordinary system call
// costs an idle process. 0 bytes read is io.EOF.
func RawRead(rc syscall.RawConn, b []byte) (int, error) {
	n, err := pollerIO(rc.Read, unix.SYS_READ, b)
	if err == nil && n == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, err
}

// RawWrite writes all of b to a stream socket in Go's poller as RawRead
// reads: it returns short only with an error.
func RawWrite(rc syscall.RawConn, b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := pollerIO(rc.Write, unix.SYS_WRITE, b[done:])
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, io.ErrShortWrite // never from a stream socket; no endless loop if it were
		}
		done += n
	}
	return done, nil
}

// maxWait bounds one ppoll. The kernel lets a wait end late by 0.1% of
// its timeout (0.5% niced): 8 ms on an 8 s deadline, enough to lose the
// race with the process's watchdog. Waits of at most 200 ms end within
// 0.2 ms (1 ms) of the deadline, at the cost of a wake-up every 200 ms.
const maxWait = 200 * time.Millisecond

// pollTimeout is the timeout of one ppoll with left nanoseconds to the
// deadline.
func pollTimeout(left int64) *unix.Timespec {
	t := unix.NsecToTimespec(min(left, int64(maxWait)))
	return &t
}

// wait blocks until fd is ready for events, the deadline in dl passes, or
// a wake; it returns os.ErrDeadlineExceeded when the deadline has passed.
func (c *pollConn) wait(events int16, dl *atomic.Int64) error {
	wfd, err := waker()
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	fds := [2]unix.PollFd{{Fd: int32(c.fd), Events: events}, {Fd: int32(wfd), Events: unix.POLLIN}}
	waiting.Add(1)
	defer waiting.Add(-1)
	for {
		if c.closed.Load() {
			return net.ErrClosed
		}
		var ts *unix.Timespec
		if d := dl.Load(); d != 0 {
			left := d - time.Now().UnixNano()
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			ts = pollTimeout(left)
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		_, err := unix.Ppoll(fds[:], ts, nil)
		if err != nil && err != unix.EINTR {
			return os.NewSyscallError("ppoll", err)
		}
		if fds[1].Revents != 0 {
			var buf [8]byte
			unix.Read(wfd, buf[:]) // drained; every waiter looks again
		}
		if fds[0].Revents != 0 {
			return nil
		}
	}
}

func (c *pollConn) opError(op string, err error) error {
	if err == io.EOF {
		return err
	}
	if c.closed.Load() {
		err = net.ErrClosed // whatever the wait or the fd said after Close
	}
	if errno, ok := err.(unix.Errno); ok {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: c.network, Addr: netAddr(c.network, c.raddr), Err: err}
}

// expired says whether the deadline in dl has passed. As with net.Conn, a
// passed deadline fails a read or write even when the socket is ready: a
// cancelled probe must not go on reading a peer that keeps sending.
func expired(dl *atomic.Int64) bool {
	d := dl.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

func (c *pollConn) Read(b []byte) (int, error) {
	if c.rc != nil {
		return c.readPoller(b)
	}
	for {
		if expired(&c.rdead) {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		n, err := unix.Read(c.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if err = c.wait(unix.POLLIN, &c.rdead); err != nil {
				return 0, c.opError("read", err)
			}
			continue
		case err != nil:
			return 0, c.opError("read", err)
		case n == 0 && len(b) > 0 && c.network == "tcp":
			return 0, io.EOF
		}
		return n, nil
	}
}

// readPoller is Read in Go's poller, which also keeps the deadline: a
// passed one fails the read even with data waiting.
func (c *pollConn) readPoller(b []byte) (int, error) {
	var n int
	var err error
	if c.network == "tcp" {
		n, err = RawRead(c.rc, b) // 0 bytes: io.EOF
	} else {
		n, err = pollerIO(c.rc.Read, unix.SYS_READ, b) // 0 bytes: an empty datagram
	}
	if err != nil {
		return 0, c.opError("read", err) // io.EOF as it is
	}
	return n, nil
}

func (c *pollConn) Write(b []byte) (int, error) {
	if c.rc != nil {
		return c.writePoller(b)
	}
	done := 0
	for done < len(b) {
		if expired(&c.wdead) {
			return done, c.opError("write", os.ErrDeadlineExceeded)
		}
		n, err := unix.Write(c.fd, b[done:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if err = c.wait(unix.POLLOUT, &c.wdead); err != nil {
				return done, c.opError("write", err)
			}
			continue
		case err != nil:
			return done, c.opError("write", err)
		}
		done += n
		if c.network == "udp" {
			break // one datagram per write
		}
	}
	return done, nil
}

// writePoller is Write in Go's poller: all of b on a stream, one datagram
// on UDP.
func (c *pollConn) writePoller(b []byte) (int, error) {
	var n int
	var err error
	if c.network == "udp" {
		n, err = pollerIO(c.rc.Write, unix.SYS_WRITE, b)
	} else {
		n, err = RawWrite(c.rc, b)
	}
	if err != nil {
		return n, c.opError("write", err)
	}
	return n, nil
}

func (c *pollConn) Close() error {
	if c.closed.Swap(true) {
		return net.ErrClosed
	}
	if c.file != nil {
		return c.file.Close() // wakes a wait in the poller
	}
	wake() // a wait on the closed fd ends
	return unix.Close(c.fd)
}

func (c *pollConn) LocalAddr() net.Addr  { return &localAddr{c} }
func (c *pollConn) RemoteAddr() net.Addr { return netAddr(c.network, c.raddr) }

func (c *pollConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *pollConn) SetReadDeadline(t time.Time) error {
	if c.file != nil {
		return c.file.SetReadDeadline(t)
	}
	c.setDeadline(&c.rdead, t)
	return nil
}

func (c *pollConn) SetWriteDeadline(t time.Time) error {
	if c.file != nil {
		return c.file.SetWriteDeadline(t)
	}
	c.setDeadline(&c.wdead, t)
	return nil
}

func (c *pollConn) setDeadline(dl *atomic.Int64, t time.Time) {
	var ns int64
	if !t.IsZero() {
		if ns = t.UnixNano(); ns <= 0 {
			ns = 1 // in the past, and not "none"
		}
	}
	if dl.Swap(ns) != ns {
		wake()
	}
}

// localAddr asks the kernel only when printed: the probes name it in their
// -v trace, which is usually off.
type localAddr struct{ c *pollConn }

func (a *localAddr) Network() string { return a.c.network }
func (a *localAddr) String() string {
	sa, err := unix.Getsockname(a.c.fd)
	if err != nil {
		return "?"
	}
	var ap netip.AddrPort
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		ap = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		ap = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return ap.String()
}

func netAddr(network string, a netip.AddrPort) net.Addr {
	if network == "udp" {
		return net.UDPAddrFromAddrPort(a)
	}
	return net.TCPAddrFromAddrPort(a)
}

// sockaddr is a for connect and bind; an IPv6 zone names the interface.
func sockaddr(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	}
	sa := &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
	if z := a.Addr().Zone(); z != "" {
		if n, err := strconv.ParseUint(z, 10, 32); err == nil {
			sa.ZoneId = uint32(n)
		} else if ifi, err := net.InterfaceByName(z); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return sa
}

// SyscallConn gives the socket to code that needs a system call of its own
// (a peek at what is queued), as *net.TCPConn does.
func (c *pollConn) SyscallConn() (syscall.RawConn, error) {
	if c.rc != nil {
		return c.rc, nil
	}
	return rawConn{c}, nil
}

type rawConn struct{ c *pollConn }

func (r rawConn) Control(f func(fd uintptr)) error {
	if r.c.closed.Load() {
		return net.ErrClosed
	}
	f(uintptr(r.c.fd))
	return nil
}

// Read calls f until it reports done, waiting for input between calls.
func (r rawConn) Read(f func(fd uintptr) bool) error {
	for !f(uintptr(r.c.fd)) {
		if err := r.c.wait(unix.POLLIN, &r.c.rdead); err != nil {
			return err
		}
	}
	return nil
}

// Write calls f until it reports done, waiting for room between calls.
func (r rawConn) Write(f func(fd uintptr) bool) error {
	for !f(uintptr(r.c.fd)) {
		if err := r.c.wait(unix.POLLOUT, &r.c.wdead); err != nil {
			return err
		}
	}
	return nil
}
