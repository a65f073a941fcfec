package proxyproto

import (
	"net"
	"net/netip"
	"syscall"
)

// Wrap returns conn sending a header of version v: on a stream before the
// first bytes, in the same write as them (or on its own just before the
// first read, for a protocol whose server speaks first: FTP, SMTP, IMAP);
// on a datagram socket before every datagram, as unbound reads it. The
// header names conn's own endpoints. None returns conn itself.
//
// The returned conn is used by one goroutine at a time, as a probe does;
// deadlines may be set from any.
func Wrap(conn net.Conn, v Version) (net.Conn, error) {
	if v == None {
		return conn, nil
	}
	src, dst, datagram := Endpoints(conn)
	hdr, err := Append(make([]byte, 0, MaxLen), v, datagram, src, dst)
	if err != nil {
		return nil, err
	}
	if datagram {
		return &dgramConn{Conn: conn, hdr: hdr}, nil
	}
	return &streamConn{Conn: conn, hdr: hdr}, nil
}

// Endpoints are conn's local and remote addresses and whether it is a
// datagram (UDP) socket.
func Endpoints(conn net.Conn) (src, dst netip.AddrPort, datagram bool) {
	return addrPort(conn.LocalAddr()), addrPort(conn.RemoteAddr()), conn.LocalAddr().Network() == "udp"
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	// sockopt's ppoll sockets name their local address only when asked.
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// streamConn sends hdr once, before anything else.
type streamConn struct {
	net.Conn
	hdr []byte // nil once sent
}

func (c *streamConn) Write(b []byte) (int, error) {
	if c.hdr == nil {
		return c.Conn.Write(b)
	}
	hdr := c.hdr
	c.hdr = nil
	n, err := c.Conn.Write(append(hdr, b...))
	return max(n-len(hdr), 0), err
}

func (c *streamConn) Read(b []byte) (int, error) {
	if c.hdr != nil {
		// The server waits for the header before it greets us.
		if _, err := c.Write(nil); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(b)
}

// SyscallConn lets a probe reach the socket below (check_ftp_noop peeks
// at what a server sent unasked).
func (c *streamConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, syscall.EINVAL
}

// dgramConn sends hdr at the head of every datagram.
type dgramConn struct {
	net.Conn
	hdr []byte
	buf []byte
}

func (c *dgramConn) Write(b []byte) (int, error) {
	c.buf = append(append(c.buf[:0], c.hdr...), b...)
	n, err := c.Conn.Write(c.buf)
	return max(n-len(c.hdr), 0), err
}
