package halfopen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// flowID names one single-path probe in flight on the Mux: the target and
// our source port. Two probes never share one (acquire picks another
// port), and the ISN is a hash of the 4-tuple, so a reply (its source,
// its destination port) or an ICMP error's quoted SYN (its destination,
// its source port) finds its probe with one map lookup, and then must
// carry the probe's ISN: ack-1, or the quoted sequence number.
// Addresses carry no zone: what the socket reads back has none.
type flowID struct {
	remote netip.AddrPort
	lport  uint16
}

// reply is what the reader hands a waiting probe.
type reply struct {
	answer answer     // open or closed, for a TCP reply
	seg    segment    // the reply, for the trace
	icmp   *icmpError // or the ICMP error about our SYN
	at     time.Time  // when the reader read it
}

// waiter is one probe in flight.
type waiter struct {
	id            flowID
	isn           uint32
	local, remote netip.AddrPort // without zones
	ch            chan reply     // one slot: the first answer wins
}

// post hands r to the probe unless it already has an answer: the reader
// never blocks on a probe.
func (w *waiter) post(r reply) bool {
	select {
	case w.ch <- r:
		return true
	default:
		return false
	}
}

// flowTable holds the single-path probes in flight, and when each (target,
// port) last ended, for sameTargetAfter. It grows only with them: a
// packet is looked up, never stored.
type flowTable struct {
	mu     sync.Mutex
	flows  map[flowID]*waiter
	recent map[flowID]time.Time
	prune  int // len(recent) at which old entries are swept out
	rr     uint32
}

func newFlowTable() *flowTable {
	return &flowTable{flows: make(map[flowID]*waiter), recent: make(map[flowID]time.Time), prune: 1024}
}

// errNoPort is a probe for which every port of the range is in flight to
// its target.
var errNoPort = errors.New("every source port of the range is in flight to this target")

// acquire registers a probe from local's address to remote with a port
// of r, round-robin, skipping a port in flight to remote here or in a
// sweep (busy), and one that probed remote within sameTargetAfter; if
// every free port did, the one that rested longest. isn gives the ISN of
// the 4-tuple.
func (t *flowTable) acquire(r PortRange, src netip.Addr, remote netip.AddrPort, now time.Time,
	busy func(netip.AddrPort, uint16) bool, isn func(local, remote netip.AddrPort) uint32) (*waiter, error) {
	src = src.WithZone("")
	remote = netip.AddrPortFrom(remote.Addr().WithZone(""), remote.Port())
	t.mu.Lock()
	defer t.mu.Unlock()
	start := t.rr
	t.rr++
	best, bestAt := -1, now
	for i := range uint32(r.Len()) {
		id := flowID{remote: remote, lport: r.port(start + i)}
		if t.flows[id] != nil || (busy != nil && busy(remote, id.lport)) {
			continue
		}
		at, used := t.recent[id]
		if !used || now.Sub(at) >= sameTargetAfter {
			best = int(id.lport)
			break
		}
		if best < 0 || at.Before(bestAt) {
			best, bestAt = int(id.lport), at
		}
	}
	if best < 0 {
		return nil, fmt.Errorf("%w: %s, range %s", errNoPort, remote, r)
	}
	local := netip.AddrPortFrom(src, uint16(best))
	w := &waiter{id: flowID{remote: remote, lport: local.Port()}, local: local, remote: remote, ch: make(chan reply, 1)}
	w.isn = isn(local, remote)
	t.flows[w.id] = w
	return w, nil
}

// busy says whether a probe to remote from port is in flight.
func (t *flowTable) busy(remote netip.AddrPort, port uint16) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.flows[flowID{remote: remote, lport: port}] != nil
}

// remove ends a probe; its port rests from remote for sameTargetAfter.
func (t *flowTable) remove(w *waiter) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.flows[w.id] == w {
		delete(t.flows, w.id)
	}
	t.recent[w.id] = now
	if len(t.recent) >= t.prune {
		for id, at := range t.recent {
			if now.Sub(at) >= sameTargetAfter {
				delete(t.recent, id)
			}
		}
		t.prune = 2*len(t.recent) + 1024
	}
}

func (t *flowTable) lookup(id flowID) *waiter {
	t.mu.Lock()
	w := t.flows[id]
	t.mu.Unlock()
	return w
}

func (t *flowTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.flows)
}

// deliver hands a received segment to the probe it answers, if any, by
// the rule the Prober applies (judge): the peer's SYN+ACK or RST+ACK on
// the probe's 4-tuple acknowledging ISN+1. Our own SYN seen on loopback,
// the kernel's RST, a challenge ACK or another probe's reply match no
// probe. It reports whether the segment went to a probe.
func (t *flowTable) deliver(s segment, at time.Time) bool {
	if !s.ACK || (!s.SYN && !s.RST) {
		return false
	}
	w := t.lookup(flowID{remote: s.Src, lport: s.Dst.Port()})
	if w == nil {
		return false
	}
	a := judge(s, w.local, w.remote, w.isn)
	if a == unrelated {
		return false
	}
	return w.post(reply{answer: a, seg: s, at: at})
}

// receive4 reads one packet from the IPv4 socket: its IP header names
// both ends.
func (t *flowTable) receive4(b []byte, at time.Time) bool {
	s, err := parseIPv4(b)
	if err != nil {
		return false
	}
	return t.deliver(s, at)
}

// receive6 reads one segment from the IPv6 socket, which delivers no IP
// header: src comes from recvmsg's address, dst from IPV6_PKTINFO.
func (t *flowTable) receive6(b []byte, src, dst netip.Addr, at time.Time) bool {
	s, err := parseTCP(b, src, dst)
	if err != nil {
		return false
	}
	return t.deliver(s, at)
}

// receiveErr reads one message of the error queue: oob the control
// messages, payload our quoted TCP header, dst the quoted destination
// (recvmsg's address). The quoted sequence number is the ISN.
func (t *flowTable) receiveErr(oob, payload []byte, dst netip.Addr, at time.Time) bool {
	ie, sport, dport, seq, err := parseErrQueue(oob, payload)
	if err != nil {
		return false
	}
	return t.deliverErr(ie, sport, dport, seq, dst, at)
}

// deliverErr hands an ICMP error to the probe whose SYN it quotes: sent
// from sport to dst:dport with sequence number seq, the probe's ISN.
func (t *flowTable) deliverErr(ie *icmpError, sport, dport uint16, seq uint32, dst netip.Addr, at time.Time) bool {
	w := t.lookup(flowID{remote: netip.AddrPortFrom(dst.WithZone(""), dport), lport: sport})
	if w == nil || w.isn != seq {
		return false
	}
	return w.post(reply{icmp: ie, at: at})
}

// pktinfoDst finds the destination address in an IPV6_PKTINFO control
// message, without allocating (the reader calls it for every packet); the
// zero Addr if there is none. The headers are read with encoding/binary:
// the buffer need not be aligned for a *Cmsghdr.
func pktinfoDst(oob []byte) netip.Addr {
	hdr := unix.CmsgLen(0)
	lenSize := int(unsafe.Sizeof(unix.Cmsghdr{}.Len))
	for len(oob) >= hdr {
		var n int
		if lenSize == 8 {
			n = int(min(binary.NativeEndian.Uint64(oob), uint64(len(oob)+1)))
		} else {
			n = int(binary.NativeEndian.Uint32(oob))
		}
		level := int32(binary.NativeEndian.Uint32(oob[lenSize:]))
		typ := int32(binary.NativeEndian.Uint32(oob[lenSize+4:]))
		if n < hdr || n > len(oob) {
			return netip.Addr{}
		}
		if level == unix.SOL_IPV6 && typ == unix.IPV6_PKTINFO && n-hdr >= unix.SizeofInet6Pktinfo {
			return netip.AddrFrom16([16]byte(oob[hdr : hdr+16]))
		}
		next := unix.CmsgSpace(n - hdr)
		if next > len(oob) {
			return netip.Addr{}
		}
		oob = oob[next:]
	}
	return netip.Addr{}
}

// addr6 reads the address of a sockaddr_in6 as recvmsg filled it.
func addr6(sa *unix.RawSockaddrInet6) netip.Addr {
	if sa.Family != unix.AF_INET6 {
		return netip.Addr{}
	}
	return netip.AddrFrom16(sa.Addr)
}
