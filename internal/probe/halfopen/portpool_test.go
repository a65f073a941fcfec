package halfopen

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// A reserved port is held by one probe at a time; given back it serves
// the next; the pool keeps at most maxIdlePorts and closes the rest; Close
// releases them all.
func TestPortPool(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	dst := netip.MustParseAddrPort("127.0.0.1:80")
	p := newPortPool()
	const n = maxIdlePorts + 44
	held := make([]reservation, n)
	var wg sync.WaitGroup
	for i := range held {
		wg.Go(func() {
			r, err := p.get(lo, dst)
			if err != nil {
				t.Error(err)
			}
			held[i] = r
		})
	}
	wg.Wait()
	seen := map[uint16]bool{}
	for _, r := range held {
		if seen[r.port] {
			t.Fatalf("port %d handed to two probes at once", r.port)
		}
		seen[r.port] = true
		// Reserved: nobody else can bind it.
		if _, _, err := reserveOn(lo, r.port); err == nil {
			t.Fatalf("port %d could be bound by another socket", r.port)
		}
	}
	for _, r := range held {
		p.put(lo, r, netip.AddrPort{})
	}
	if p.idle != maxIdlePorts {
		t.Errorf("%d ports idle, want the cap %d", p.idle, maxIdlePorts)
	}
	closed := 0
	for _, r := range held {
		if !fdOpen(r.fd) {
			closed++
		}
	}
	if closed != n-maxIdlePorts {
		t.Errorf("%d sockets released past the cap, want %d", closed, n-maxIdlePorts)
	}
	r, err := p.get(lo, dst)
	if err != nil || !seen[r.port] {
		t.Errorf("after put, get gave port %d (%v), want one from the pool", r.port, err)
	}
	p.put(lo, r, netip.AddrPort{})
	if p.idle != maxIdlePorts {
		t.Errorf("%d ports idle after one came back, want %d", p.idle, maxIdlePorts)
	}
	p.close()
	for _, r := range held {
		if fdOpen(r.fd) {
			t.Fatalf("socket of port %d still open after close", r.port)
		}
	}
	r, err = p.get(lo, dst)
	if err != nil {
		t.Fatal(err)
	}
	p.put(lo, r, netip.AddrPort{}) // a closed pool releases what comes back
	if fdOpen(r.fd) || p.idle != 0 {
		t.Errorf("a closed pool kept a socket")
	}
}

// A port that just probed a target does not probe it again until the
// server has surely forgotten that 4-tuple; any other target may have it
// at once.
func TestPortPoolRestsBeforeTheSameTarget(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	a, b := netip.MustParseAddrPort("127.0.0.1:80"), netip.MustParseAddrPort("127.0.0.1:81")
	p := newPortPool()
	defer p.close()
	r, err := p.get(lo, a)
	if err != nil {
		t.Fatal(err)
	}
	p.put(lo, r, a)
	again, err := p.get(lo, a)
	if err != nil {
		t.Fatal(err)
	}
	if again.port == r.port {
		t.Errorf("port %d probed %s twice in a row", r.port, a)
	}
	other, err := p.get(lo, b)
	if err != nil || other.port != r.port {
		t.Errorf("another target got port %d (%v), want the rested %d", other.port, err, r.port)
	}
	p.put(lo, other, a)
	p.mu.Lock()
	p.free[lo][0].at = time.Now().Add(-sameTargetAfter)
	p.mu.Unlock()
	if late, err := p.get(lo, a); err != nil || late.port != r.port {
		t.Errorf("after %v, %s got port %d (%v), want %d again", sameTargetAfter, a, late.port, err, r.port)
	}
	unix.Close(again.fd)
}

// reserveOn binds a TCP socket to src:port, for the test to see a port is
// taken.
func reserveOn(src netip.Addr, port uint16) (int, uint16, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	sa, _ := sockaddr(netip.AddrPortFrom(src, port))
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	unix.Close(fd)
	return fd, port, nil
}
