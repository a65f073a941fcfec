package halfopen

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// flowKey names one probe in flight on the Mux: the target, our source
// port and our ISN. A reply carries all three (its source, its destination
// port, its ack - 1), and so does the SYN an ICMP error quotes (its
// destination, its source port, its sequence number), so both find their
// probe with one map lookup, and nothing else can: a reply for another
// probe or with the wrong ack has another key. Addresses carry no zone:
// what the socket reads back has none.
type flowKey struct {
	remote netip.AddrPort
	lport  uint16
	isn    uint32
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
	key           flowKey
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

// flowTable holds the probes in flight. It grows only with them: a packet
// is looked up, never stored.
type flowTable struct {
	mu    sync.Mutex
	flows map[flowKey]*waiter
}

func newFlowTable() *flowTable { return &flowTable{flows: make(map[flowKey]*waiter)} }

// add registers a probe from local to remote with a fresh ISN. The port
// is reserved, so two probes in flight share a key only if they drew the
// same ISN too: then another is drawn.
func (t *flowTable) add(local, remote netip.AddrPort) (*waiter, error) {
	local = netip.AddrPortFrom(local.Addr().WithZone(""), local.Port())
	remote = netip.AddrPortFrom(remote.Addr().WithZone(""), remote.Port())
	for {
		isn, err := randomISN()
		if err != nil {
			return nil, err
		}
		w := &waiter{key: flowKey{remote: remote, lport: local.Port(), isn: isn}, local: local, remote: remote, ch: make(chan reply, 1)}
		t.mu.Lock()
		if _, taken := t.flows[w.key]; !taken {
			t.flows[w.key] = w
			t.mu.Unlock()
			return w, nil
		}
		t.mu.Unlock()
	}
}

func (t *flowTable) remove(w *waiter) {
	t.mu.Lock()
	if t.flows[w.key] == w {
		delete(t.flows, w.key)
	}
	t.mu.Unlock()
}

func (t *flowTable) lookup(k flowKey) *waiter {
	t.mu.Lock()
	w := t.flows[k]
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
	w := t.lookup(flowKey{remote: s.Src, lport: s.Dst.Port(), isn: s.Ack - 1})
	if w == nil {
		return false
	}
	a := judge(s, w.local, w.remote, w.key.isn)
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
	w := t.lookup(flowKey{remote: netip.AddrPortFrom(dst.WithZone(""), dport), lport: sport, isn: seq})
	if w == nil {
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
