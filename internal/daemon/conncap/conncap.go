// Package conncap caps the connections a front holds open without letting
// idle ones lock out the asks that matter: when the cap is reached, a new
// connection sheds the oldest connection that is not being answered (one
// that has not sent a whole request yet, or a keep-alive one between
// requests), and only when every connection is being answered is the new
// one closed.
//
// Why not a listener that stops accepting at the cap (netutil's
// LimitListener, HAProxy's maxconn): then slow or silent clients hold
// every slot and the well-behaved ask waits in the kernel's accept queue
// behind them, past its load balancer's check timeout. nginx does what
// this package does: connections waiting for a request are "reusable" and
// the oldest are closed when free connections run low. A health-check
// asker sends its request at once, so it is never the oldest idle
// connection for long.
package conncap

import (
	"container/list"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Cap is a bound on the connections open at once, shared by the listeners
// it wraps.
type Cap struct {
	max int
	// OnDrop, if set, is called (outside the Cap's lock) for each
	// connection closed to keep the cap: idle is true when an idle one was
	// shed, false when the new one was refused because all were busy.
	OnDrop func(idle bool)

	mu   sync.Mutex
	open int
	idle list.List // of *Conn, oldest first

	shed, refused atomic.Int64
}

// New is a cap of n connections (at least 1).
func New(n int) *Cap { return &Cap{max: max(n, 1)} }

// Max is the cap.
func (c *Cap) Max() int { return c.max }

// Stats are the connections open now, and those closed so far to keep the
// cap: idle ones shed, new ones refused because every one was busy.
func (c *Cap) Stats() (open int, shed, refused int64) {
	c.mu.Lock()
	open = c.open
	c.mu.Unlock()
	return open, c.shed.Load(), c.refused.Load()
}

// Conn is a connection under a Cap. It starts idle.
type Conn struct {
	net.Conn
	cap  *Cap
	elem *list.Element // in cap.idle while idle; guarded by cap.mu
	gone bool          // closed or shed; guarded by cap.mu
}

// Close closes the connection and frees its place under the cap.
func (c *Conn) Close() error {
	c.cap.mu.Lock()
	if !c.gone {
		c.gone = true
		c.cap.open--
		if c.elem != nil {
			c.cap.idle.Remove(c.elem)
			c.elem = nil
		}
	}
	c.cap.mu.Unlock()
	return c.Conn.Close()
}

// admit places a new connection, shedding the oldest idle one if the cap
// is reached. It returns the connection shed, if any, and false when the
// new one must be refused.
func (c *Cap) admit(nc *Conn) (victim *Conn, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open >= c.max {
		front := c.idle.Front()
		if front == nil {
			return nil, false
		}
		// Spare a connection whose request already waits, unread: it is
		// new and its server has not run yet (a busy machine, a flood of
		// new connections), not a slow client, whose bytes its server
		// reads as they come.
		e := front
		for tries := 0; e != nil && tries < maxSpared && e.Value.(*Conn).unread(); tries++ {
			e = e.Next()
		}
		if e == nil || e.Value.(*Conn).unread() {
			e = front // all waiting: the oldest goes still
		}
		victim = c.idle.Remove(e).(*Conn)
		victim.elem, victim.gone = nil, true
		c.open--
	}
	c.open++
	nc.elem = c.idle.PushBack(nc)
	return victim, true
}

// maxSpared bounds the connections with a request waiting that one
// admission passes over: each costs a system call under the lock.
const maxSpared = 16

// unread reports whether bytes wait in the connection's receive queue.
func (c *Conn) unread() bool {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	return n > 0
}

// Listener wraps ln so that its connections count against the cap.
// Accept never waits for room: it makes room, or closes the new
// connection at once.
func (c *Cap) Listener(ln net.Listener) net.Listener { return &listener{ln, c} }

type listener struct {
	net.Listener
	cap *Cap
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		conn := &Conn{Conn: nc, cap: l.cap}
		victim, ok := l.cap.admit(conn)
		if victim != nil {
			victim.Conn.Close() // its reader then fails, and its server lets go
			l.cap.shed.Add(1)
			if l.cap.OnDrop != nil {
				l.cap.OnDrop(true)
			}
		}
		if !ok {
			nc.Close()
			l.cap.refused.Add(1)
			if l.cap.OnDrop != nil {
				l.cap.OnDrop(false)
			}
			continue
		}
		return conn, nil
	}
}

// Busy marks a connection as being answered: it is not shed.
func Busy(nc net.Conn) {
	if c := unwrap(nc); c != nil {
		c.cap.mu.Lock()
		if c.elem != nil {
			c.cap.idle.Remove(c.elem)
			c.elem = nil
		}
		c.cap.mu.Unlock()
	}
}

// Idle marks a connection as waiting for a request: it is the newest idle
// one, shed after every older one.
func Idle(nc net.Conn) {
	if c := unwrap(nc); c != nil {
		c.cap.mu.Lock()
		if !c.gone && c.elem == nil {
			c.elem = c.cap.idle.PushBack(c)
		}
		c.cap.mu.Unlock()
	}
}

// ConnState is an http.Server's ConnState hook: a connection is busy from
// the moment its request has been read (StateActive) until it waits for
// the next (StateIdle).
func ConnState(nc net.Conn, st http.ConnState) {
	switch st {
	case http.StateActive:
		Busy(nc)
	case http.StateIdle:
		Idle(nc)
	}
}

// unwrap finds the *Conn under what a server holds (TLS wraps it).
func unwrap(nc net.Conn) *Conn {
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn()
	}
	c, _ := nc.(*Conn)
	return c
}
