package halfopen

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// maxIdlePorts bounds the reserved ports the Mux keeps between probes.
	maxIdlePorts = 256
	// sameTargetAfter is how long a port rests before it probes the same
	// target again: longer than a server keeps a half-made connection
	// (SYN-RECV; Linux gives up after its fifth SYN+ACK, 63 s). Were our
	// RST lost and the kernel's dropped by a host firewall, a new SYN on
	// the same 4-tuple would meet that entry and get a bare ACK: silence,
	// "filtered", for a working port.
	sameTargetAfter = 75 * time.Second
)

// portPool keeps source ports reserved between the Mux's probes: a probe
// takes a bound, never-listening TCP socket (reserve) for its whole life,
// as the Prober's does, and gives it back, so that a later probe from the
// same address skips four system calls. A socket in the pool is held by
// no probe; one in use, by exactly one. A port goes to another target at
// once, to the same target only after sameTargetAfter; replies to an
// earlier probe cannot be taken for a later one's anyway (the ISN differs).
type portPool struct {
	mu     sync.Mutex
	free   map[netip.Addr][]reservation
	idle   int
	closed bool
}

type reservation struct {
	fd   int
	port uint16
	last netip.AddrPort // the target it last probed
	at   time.Time      // when it came back
}

func newPortPool() *portPool { return &portPool{free: make(map[netip.Addr][]reservation)} }

// get returns a port reserved on src, for a probe of dst.
func (p *portPool) get(src netip.Addr, dst netip.AddrPort) (reservation, error) {
	p.mu.Lock()
	l := p.free[src]
	now := time.Now()
	// Oldest first (put appends): ports rotate rather than one serving
	// every probe.
	for i, r := range l {
		if r.last == dst && now.Sub(r.at) < sameTargetAfter {
			continue
		}
		l = append(l[:i], l[i+1:]...)
		if len(l) == 0 {
			delete(p.free, src) // no empty lists left behind for addresses gone
		} else {
			p.free[src] = l
		}
		p.idle--
		p.mu.Unlock()
		return r, nil
	}
	p.mu.Unlock()
	fd, port, err := reserve(src)
	return reservation{fd: fd, port: port}, err
}

// put gives back a reservation that probed dst, or releases it if the
// pool is full or closed.
func (p *portPool) put(src netip.Addr, r reservation, dst netip.AddrPort) {
	r.last, r.at = dst, time.Now()
	p.mu.Lock()
	if !p.closed && p.idle < maxIdlePorts {
		p.free[src] = append(p.free[src], r)
		p.idle++
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	unix.Close(r.fd)
}

func (p *portPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for src, l := range p.free {
		for _, r := range l {
			unix.Close(r.fd)
		}
		delete(p.free, src)
	}
	p.idle = 0
}
