package halfopen

import (
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// maxIdlePorts bounds the reserved ports the Mux keeps between probes.
const maxIdlePorts = 256

// portPool keeps source ports reserved between the Mux's probes: a probe
// takes a bound, never-listening TCP socket (reservePort) for its whole
// life, as the Prober's does, and gives it back, so that the next probe
// from the same address skips four system calls. A socket in the pool is
// held by no probe; one in use, by exactly one. Replies to an earlier
// probe from the same port cannot be taken for a later one's: the ISN
// differs.
type portPool struct {
	mu     sync.Mutex
	free   map[netip.Addr][]reservation
	idle   int
	closed bool
}

type reservation struct {
	fd   int
	port uint16
}

func newPortPool() *portPool { return &portPool{free: make(map[netip.Addr][]reservation)} }

// get returns a port reserved on src.
func (p *portPool) get(src netip.Addr) (reservation, error) {
	p.mu.Lock()
	if l := p.free[src]; len(l) > 0 {
		r := l[len(l)-1]
		if len(l) == 1 {
			delete(p.free, src) // no empty lists left behind for addresses gone
		} else {
			p.free[src] = l[:len(l)-1]
		}
		p.idle--
		p.mu.Unlock()
		return r, nil
	}
	p.mu.Unlock()
	fd, port, err := reserve(src)
	return reservation{fd, port}, err
}

// put gives a reservation back, or releases it if the pool is full or
// closed.
func (p *portPool) put(src netip.Addr, r reservation) {
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
