package halfopen

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A sender writes a batch of packets (SYNs and RSTs of sweeps) with one
// sendmmsg(2) per batch, in buffers allocated once: building and sending a
// packet allocates nothing.
const (
	sendBatch = 64
	pktMax    = 40 + 24 // IPv6 header and a SYN with its MSS option
	oobMax    = 40      // CmsgSpace(in6_pktinfo); in_pktinfo needs less
	// sendTries and sendPause: a full send queue (EAGAIN, ENOBUFS) is
	// tried again a few times, a moment apart, before its packets are
	// given up (their probes UNKNOWN, never down).
	sendTries = 3
	sendPause = 2 * time.Millisecond
)

// Reasons a packet could not be sent, for MuxStats.SendErrors.
const (
	sendErrNoBufs = iota // ENOBUFS or EAGAIN after the retries
	sendErrPerm          // EPERM: a local firewall
	sendErrOther
	numSendErrs
)

var sendErrNames = [numSendErrs]string{"enobufs", "eperm", "other"}

// sendItem is one packet to send: a sweep target's SYN (first or again)
// or the RST after its SYN+ACK, with what the packet needs copied from
// the target while its lock was held (the target may start its next probe
// before the packet leaves).
type sendItem struct {
	t     *SweepTarget
	gen   uint32 // the target's probe this packet belongs to
	snd   *sender
	local netip.AddrPort
	seq   uint32
	rst   bool
	retx  bool // a SYN sent again
}

// sendFailure is a packet the kernel refused.
type sendFailure struct {
	item sendItem
	err  error
}

// sender is one path's (family and mark) batch. Its lock is held from the
// first packet added to the flush, so one caller's batch is never sent
// (nor its failures reported) by another.
type sender struct {
	mu    sync.Mutex
	m     *Mux
	rc    syscall.RawConn
	v6    bool
	n     int
	msgs  [sendBatch]unix.Mmsghdr
	iov   [sendBatch]unix.Iovec
	pkts  [sendBatch][pktMax]byte
	names [sendBatch]unix.RawSockaddrInet6 // or a sockaddr_in at its start
	oob   [sendBatch][oobMax]byte
	items [sendBatch]sendItem
	fails *[]sendFailure // where the flush in progress reports
	ctl   func(fd uintptr)
}

func newSender(m *Mux, p *muxPath, v6 bool) (*sender, error) {
	rc, err := p.send.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &sender{m: m, rc: rc, v6: v6}
	s.ctl = s.run // bound once: a method value made per flush would allocate
	oobLen := unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	for i := range s.msgs {
		s.iov[i].Base = &s.pkts[i][0]
		h := &s.msgs[i].Hdr
		h.Iov = &s.iov[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&s.names[i]))
		h.Control = &s.oob[i][0]
		if v6 {
			putCmsgHeader(s.oob[i][:], unix.SOL_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
			oobLen = unix.CmsgSpace(unix.SizeofInet6Pktinfo)
		} else {
			putCmsgHeader(s.oob[i][:], unix.SOL_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
		}
		h.SetControllen(oobLen)
	}
	return s, nil
}

// add puts one packet in the batch, sending the batch first if it is
// full. The caller holds s.mu.
func (s *sender) add(it sendItem, fails *[]sendFailure) {
	if s.n == sendBatch {
		s.flush(fails)
	}
	i := s.n
	t := it.t
	seg := segment{Src: it.local, Dst: t.s.remote, Seq: it.seq, SYN: !it.rst, RST: it.rst}
	s.iov[i].SetLen(seg.put(s.pkts[i][:]))
	h := &s.msgs[i].Hdr
	oob := s.oob[i][unix.CmsgLen(0):]
	clear(oob[:oobMax-unix.CmsgLen(0)])
	if s.v6 {
		s.names[i] = t.s.sa6
		h.Namelen = unix.SizeofSockaddrInet6
		a := it.local.Addr().As16()
		copy(oob, a[:]) // struct in6_pktinfo: addr, ifindex
		putUint32(oob[16:], t.s.sa6.Scope_id)
	} else {
		*(*unix.RawSockaddrInet4)(unsafe.Pointer(&s.names[i])) = t.s.sa4
		h.Namelen = unix.SizeofSockaddrInet4
		a := it.local.Addr().As4()
		copy(oob[4:], a[:]) // struct in_pktinfo: ifindex, spec_dst (our source), addr
	}
	s.items[i] = it
	s.n++
}

// flush sends the batch; what the kernel refuses goes to fails.
func (s *sender) flush(fails *[]sendFailure) {
	if s.n == 0 {
		return
	}
	s.fails = fails
	if err := s.rc.Control(s.ctl); err != nil {
		for i := range s.n {
			s.fail(i, ErrMuxClosed)
		}
	}
	s.fails = nil
	s.n = 0
}

// run is the flush with the socket's fd held (Close cannot hand the
// number to another socket meanwhile). sendmmsg(2) may send part of the
// batch: the rest is sent again. It fails only for the first packet it
// did not send: that one is given up and the rest sent, except for a full
// queue, which is waited for briefly and then gives up the rest.
func (s *sender) run(fd uintptr) {
	i, tries := 0, 0
	for i < s.n {
		k, err := s.m.sendmmsg(int(fd), s.msgs[i:s.n])
		if err == nil && k > 0 {
			s.m.sentBatch.observe(k)
			i += k
			tries = 0
			continue
		}
		if err == nil {
			err = unix.EAGAIN // sent nothing, said nothing: as a full queue
		}
		switch {
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOBUFS):
			if tries < sendTries {
				tries++
				time.Sleep(sendPause)
				continue
			}
			for ; i < s.n; i++ {
				s.fail(i, err)
			}
		default:
			s.fail(i, err)
			i++
			tries = 0
		}
	}
}

func (s *sender) fail(i int, err error) {
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOBUFS):
		s.m.sendErrs[sendErrNoBufs].Add(1)
	case errors.Is(err, unix.EPERM):
		s.m.sendErrs[sendErrPerm].Add(1)
	default:
		s.m.sendErrs[sendErrOther].Add(1)
	}
	if s.fails != nil {
		*s.fails = append(*s.fails, sendFailure{item: s.items[i], err: err})
	}
}

// sendItems sends items in batches, one path at a time: a batch holds
// one family and one mark. items is reordered.
func (m *Mux) sendItems(items []sendItem, fails *[]sendFailure) {
	for len(items) > 0 {
		snd := items[0].snd
		snd.mu.Lock()
		k := 0
		for _, it := range items {
			if it.snd == snd {
				snd.add(it, fails)
			} else {
				items[k] = it
				k++
			}
		}
		snd.flush(fails)
		snd.mu.Unlock()
		items = items[:k]
	}
}

// sendmmsg sends up to len(msgs) datagrams without blocking: x/sys/unix
// has the struct, not the call. A raw system call (see nonBlocking).
func sendmmsg(fd int, msgs []unix.Mmsghdr) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)),
		unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// batchBounds are the upper bounds of the batch histograms.
var batchBounds = []float64{1, 2, 4, 8, 16, 32, 64}

// batchCounter counts packets per system call, lock-free.
type batchCounter struct {
	buckets    [8]atomic.Uint64 // by bound; the last past them all
	count, sum atomic.Uint64
}

func (c *batchCounter) observe(n int) {
	i := 0
	for i < len(batchBounds) && float64(n) > batchBounds[i] {
		i++
	}
	c.buckets[i].Add(1)
	c.count.Add(1)
	c.sum.Add(uint64(n))
}

// BatchHistogram is a histogram of packets per system call, Prometheus
// style: Counts[i] is how many calls carried at most Bounds[i] packets.
type BatchHistogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64 // calls
	Sum    uint64 // packets
}

func (c *batchCounter) snapshot() BatchHistogram {
	h := BatchHistogram{Bounds: batchBounds, Counts: make([]uint64, len(batchBounds))}
	var cum uint64
	for i := range batchBounds {
		cum += c.buckets[i].Load()
		h.Counts[i] = cum
	}
	h.Count, h.Sum = c.count.Load(), c.sum.Load()
	return h
}

func putUint32(b []byte, v uint32) { binary.NativeEndian.PutUint32(b, v) }
