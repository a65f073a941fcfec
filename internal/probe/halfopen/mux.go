package halfopen

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// ErrMuxClosed is the error of a probe the Mux could not finish because it
// was closed: could not check, so UNKNOWN.
var ErrMuxClosed = errors.New("half-open prober closed")

// sendRetry is how soon a SYN that found the send queue full is tried
// again: a moment, not a retransmission.
const sendRetry = 5 * time.Millisecond

// Mux sends half-open probes for a long-running process (lbcheckd), any
// number at once, without a socket per probe: one raw socket per address
// family receives every probe's replies, and one reader goroutine per
// socket checks each reply's ack against the keyed hash of its 4-tuple
// (isn.go) and hands it to its probe by the target's address and port and
// our source port (ICMP errors by the SYN they quote). Packets are sent
// from raw IPPROTO_RAW sockets, one per family and firewall mark, with the
// IP header written here; a sweep's in sendmmsg(2) batches. Every source
// port comes from one reserved range (PortRange).
//
// Every socket that needs CAP_NET_RAW (or CAP_NET_ADMIN for a mark) is
// opened by OpenMux and Prepare, so that the process can drop every
// capability afterwards (DropCaps) and keep probing. A Mux is safe for
// concurrent use.
type Mux struct {
	fams    [2]*muxFamily // IPv4, IPv6; nil if it could not be opened
	famErr  [2]error      // why
	missing error         // both, for Missing

	ports PortRange
	res   *reservation
	keys  *isnSecret
	flows *flowTable
	sw    sweepState

	// sendmmsg is sendmmsg(2); a test replaces it to make partial sends
	// and errors.
	sendmmsg func(fd int, msgs []unix.Mmsghdr) (int, error)

	done      chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	fdMu      sync.RWMutex // Stats reads the receiving sockets, Close closes them

	replies, unmatched, late atomic.Uint64
	sendErrs                 [numSendErrs]atomic.Uint64
	sentBatch, readBatch     batchCounter
}

// muxFamily is one address family: its receiving socket and reader, and
// its sending paths by mark.
type muxFamily struct {
	v6    bool
	recv  int             // the receiving socket, non-blocking, owned by file
	file  *os.File        // recv in Go's poller: the reader parks there, never in a system call
	rc    syscall.RawConn // file's
	done  chan struct{}
	mu    sync.RWMutex
	paths map[uint32]*muxPath
	rd    *readerState // the reader's own buffers
}

// MuxStats are the Mux's counters, for the daemon's /metrics.
type MuxStats struct {
	InFlight  int    // single-path probes (Mux.Probe) waiting for an answer
	Replies   uint64 // answers handed to a probe (SYN+ACK, RST, ICMP)
	Unmatched uint64 // packets read that answer no probe: their ack is not our hash of their 4-tuple
	// Dropped counts the packets the kernel dropped because the receive
	// queue was full (the reader fell behind a burst); their probes
	// retransmit.
	Dropped uint64
	// Late counts replies that validate (the keyed-hash ISN) but whose
	// probe had already ended: answered, or past its deadline.
	Late uint64
	// SendErrors counts packets that could not be sent, by reason:
	// "enobufs" (the send queue stayed full, ENOBUFS or EAGAIN), "eperm"
	// (a local firewall), "other". Each such SYN's probe is UNKNOWN.
	SendErrors map[string]uint64
	SentBatch  BatchHistogram // packets per sendmmsg(2) call (SYNs and RSTs)
	ReadBatch  BatchHistogram // packets per recvmmsg(2) call
	// SweepInFlight counts sweep probes waiting for an answer.
	SweepInFlight int
}

// OpenMux opens the receiving socket of each address family, starts their
// readers, reserves DefaultPorts (or the next free block) and prepares
// sending without a mark. A family the host lacks (no IPv6) is left out,
// and probes to it are UNKNOWN: the error is then nil and Missing says
// why. Without CAP_NET_RAW the error wraps ErrNoPrivilege. Call it, and
// Prepare for every mark, before DropCaps.
func OpenMux() (*Mux, error) { return OpenMuxPorts(PortRange{}) }

// OpenMuxPorts is OpenMux with the range of source ports r (the zero
// PortRange: the default). An explicit range that cannot be reserved
// whole is an error naming the port.
func OpenMuxPorts(r PortRange) (*Mux, error) { return openMux(openReceiver, r) }

// openMux is OpenMuxPorts with the receiving sockets from open, so that a
// test can make a family fail.
func openMux(open func(v6 bool) (int, error), r PortRange) (*Mux, error) {
	keys, err := newISNSecret(getrandom)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sockopt.ErrSetup, err)
	}
	m := &Mux{flows: newFlowTable(), keys: keys, done: make(chan struct{}), sendmmsg: sendmmsg}
	m.sw.init()
	var errs []error
	for i, v6 := range []bool{false, true} {
		recv, err := open(v6)
		if err != nil {
			m.famErr[i] = err
			errs = append(errs, fmt.Errorf("%s raw socket: %w", famName(v6), err))
			continue
		}
		m.fams[i] = &muxFamily{v6: v6, recv: recv, paths: make(map[uint32]*muxPath)}
	}
	m.missing = errors.Join(errs...)
	if m.fams[0] == nil && m.fams[1] == nil {
		return nil, m.missing
	}
	have := [2]bool{m.fams[0] != nil, m.fams[1] != nil}
	if r == (PortRange{}) {
		m.res, err = reserveDefault(have)
	} else {
		m.res, err = reservePorts(r, have)
	}
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("%w: %v", sockopt.ErrSetup, err)
	}
	m.ports = m.res.r
	for _, f := range m.fams {
		if f == nil {
			continue
		}
		if err := attachFilter(f.recv, sharedFilter(!f.v6, m.ports)); err != nil {
			m.Close()
			return nil, fmt.Errorf("%w: %s BPF filter: %v", sockopt.ErrSetup, famName(f.v6), err)
		}
	}
	if err := m.Prepare(sockopt.Options{}); err != nil {
		m.Close()
		return nil, err
	}
	for _, f := range m.fams {
		if f == nil {
			continue
		}
		if err := f.poll(); err != nil {
			m.Close()
			return nil, fmt.Errorf("%w: %s raw socket: %v", sockopt.ErrSetup, famName(f.v6), err)
		}
	}
	for _, f := range m.fams {
		if f != nil {
			f.done = make(chan struct{})
			f.rd = newReaderState()
			go m.read(f)
		}
	}
	m.sw.stopped = make(chan struct{})
	go m.sweepLoop()
	return m, nil
}

// Ports is the range of source ports the Mux reserved.
func (m *Mux) Ports() PortRange { return m.ports }

func famName(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// Missing says why an address family has no socket (nil if both have).
func (m *Mux) Missing() error { return m.missing }

// Prepare opens what probes with these socket options need and only a
// privileged process can open: for o.Mark, the sockets that send and look
// up routes with that mark, in every family. It does nothing for a mark
// already prepared, so a daemon calls it for every half-open module when
// it loads its configuration (before DropCaps) and again on reload, when
// it fails for a mark that is new: a mark can only be added while the
// process holds CAP_NET_RAW (CAP_NET_ADMIN before Linux 5.17). The source
// address (--bind) needs nothing: it is given per packet.
func (m *Mux) Prepare(o sockopt.Options) error {
	if m.closed.Load() {
		return ErrMuxClosed
	}
	for _, f := range m.fams {
		if f == nil {
			continue
		}
		f.mu.Lock()
		if m.closed.Load() { // Close may have run since the look above
			f.mu.Unlock()
			return ErrMuxClosed
		}
		if _, ok := f.paths[o.Mark]; !ok {
			p, err := openPath(f.v6, o.Mark)
			if err == nil {
				p.snd, err = newSender(m, p, f.v6)
			}
			if err != nil {
				f.mu.Unlock()
				return fmt.Errorf("half-open %s sockets with mark %#x: %w", famName(f.v6), o.Mark, err)
			}
			f.paths[o.Mark] = p
		}
		f.mu.Unlock()
	}
	return nil
}

// Stats reads the counters.
func (m *Mux) Stats() MuxStats {
	s := MuxStats{InFlight: m.flows.len(), Replies: m.replies.Load(), Unmatched: m.unmatched.Load(),
		Late: m.late.Load(), SendErrors: map[string]uint64{}, SentBatch: m.sentBatch.snapshot(), ReadBatch: m.readBatch.snapshot()}
	for i, name := range sendErrNames {
		s.SendErrors[name] = m.sendErrs[i].Load()
	}
	m.sw.mu.Lock()
	s.SweepInFlight = len(m.sw.heap)
	m.sw.mu.Unlock()
	m.fdMu.RLock()
	defer m.fdMu.RUnlock()
	for _, f := range m.fams {
		if f != nil && f.rc != nil {
			// Fails, adding nothing, once Close has closed the socket.
			_ = f.rc.Control(func(fd uintptr) { s.Dropped += uint64(socketDrops(int(fd))) })
		}
	}
	return s
}

// Close ends the readers and closes every socket. Probes waiting for an
// answer return at once, UNKNOWN with ErrMuxClosed (a sweep's get their
// Done so), and so does any probe started later. Close returns once the
// readers have stopped and every sweep probe in flight has had its Done.
func (m *Mux) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		close(m.done)
		for _, f := range m.fams {
			if f == nil {
				continue
			}
			if f.file != nil {
				// Wakes the reader parked in the poller; the socket is
				// closed once its read, if one is under way, returns.
				_ = f.file.Close()
			}
			f.mu.Lock()
			for _, p := range f.paths {
				p.close()
			}
			f.mu.Unlock()
		}
		if m.sw.stopped != nil {
			<-m.sw.stopped
		}
		if m.res != nil {
			m.res.close()
		}
		m.fdMu.Lock()
		defer m.fdMu.Unlock()
		for _, f := range m.fams {
			if f != nil {
				if f.done != nil { // nil if its reader never started
					<-f.done
				}
				if f.file == nil { // else closed above
					unix.Close(f.recv)
				}
				f.recv = -1
			}
		}
	})
	return nil
}

// Spec is check_tcp_half_open for the daemon: the same name, options and
// verdicts as the binary, probing through this Mux. Its Options are safe
// for concurrent Probe calls, so one parsed module serves every request.
// A nil *Mux's Spec parses modules (a configuration check) and its probes
// are UNKNOWN.
func (m *Mux) Spec() check.Spec {
	s := Spec
	s.New = func() check.Options { return muxOptions{m} }
	return s
}

// muxOptions are the half-open check's options in the daemon: none of its
// own (only the common ones), and the Mux.
type muxOptions struct{ m *Mux }

func (muxOptions) Flags(fs *flags.FlagSet) { refuseProxy(fs) }
func (muxOptions) Validate() error         { return nil }
func (muxOptions) DefaultPort() uint16     { return 0 }
func (o muxOptions) Probe(ctx context.Context, t probe.Target) probe.Result {
	return o.m.Probe(ctx, t)
}

// closedResult is a probe the Mux could not finish.
func closedResult() probe.Result {
	return probe.Result{State: exitcode.Unknown, Summary: "half-open prober closed", Err: ErrMuxClosed}
}

// Probe sends one SYN to t.Addr (again on a doubling schedule while
// nothing comes back) and judges the answer, as Prober.Probe does, with
// t.Socket's source address and mark. It returns by ctx's deadline.
func (m *Mux) Probe(ctx context.Context, t probe.Target) probe.Result {
	start := time.Now()
	if m == nil {
		// lbcheckd could not open its raw sockets at start (its log says so).
		return probe.Result{State: exitcode.Unknown, Err: ErrNoPrivilege,
			Summary: "half-open probes need CAP_NET_RAW, which lbcheckd lacked at start"}
	}
	if m.closed.Load() {
		return closedResult()
	}
	remote := netip.AddrPortFrom(t.Addr.Addr().Unmap(), t.Addr.Port())
	i := 0
	if !remote.Addr().Is4() {
		i = 1
	}
	f := m.fams[i]
	if f == nil {
		// Could not check: UNKNOWN, whatever kept the socket from opening.
		return probe.Result{State: exitcode.Unknown, Err: fmt.Errorf("%w: %w", sockopt.ErrSetup, m.famErr[i]),
			Summary: fmt.Sprintf("no %s raw socket: %v", famName(i == 1), m.famErr[i])}
	}
	path, err := f.pathFor(remote.Addr(), t.Socket)
	if err != nil {
		return probe.Fail("raw socket", err)
	}
	src := t.Socket.Bind
	if !src.IsValid() {
		if src, err = path.source(remote); err != nil {
			if errors.Is(err, ErrMuxClosed) {
				return closedResult()
			}
			return probe.Fail("raw socket", err)
		}
	}
	if src.Is4() != remote.Addr().Is4() {
		return probe.Fail("raw socket", fmt.Errorf("%w: source %s and target %s are not of one address family", sockopt.ErrSetup, src, remote.Addr()))
	}
	if t.Socket.Bind.IsValid() {
		if err := localSource(src); err != nil {
			return probe.Fail("source address", err)
		}
	}
	w, err := m.acquire(src, remote)
	if err != nil {
		return probe.Fail("source port", fmt.Errorf("%w: %w", sockopt.ErrSetup, err))
	}
	defer m.flows.remove(w)
	local := w.local
	x := muxExchange{m: m, path: path, t: t, local: local, remote: remote, w: w}
	if x.dg, err = newDatagram(src.WithZone(""), remote.Addr()); err != nil {
		return probe.Fail("raw socket", err)
	}
	tcp, err := segment{Src: local, Dst: remote, Seq: w.isn, SYN: true}.encode()
	if err != nil {
		return probe.Fail("build SYN", err)
	}
	r := x.run(ctx, withIPHeader(tcp, src, remote.Addr()))
	if !x.sent.IsZero() {
		r.Phases = append([]probe.Phase{{Name: "setup", Duration: x.sent.Sub(start)}}, r.Phases...)
	}
	return r
}

// pathFor is the sending path of o's mark to remote, after what Probe and
// Register both refuse before any packet: a target that is not unicast, a
// mark not prepared while the process could, a --bind no SYN can come
// from.
func (f *muxFamily) pathFor(remote netip.Addr, o sockopt.Options) (*muxPath, error) {
	if err := unicast(remote); err != nil {
		return nil, err
	}
	f.mu.RLock()
	path := f.paths[o.Mark]
	f.mu.RUnlock()
	if path == nil {
		return nil, fmt.Errorf("%w: no raw socket with mark %#x: a mark must be known when the prober opens, before privileges are dropped",
			sockopt.ErrSetup, o.Mark)
	}
	if err := source(o.Bind); err != nil {
		return nil, err
	}
	return path, nil
}

// muxExchange is one attempt through the Mux.
type muxExchange struct {
	m             *Mux
	path          *muxPath
	t             probe.Target
	local, remote netip.AddrPort
	w             *waiter
	dg            datagram
	sent          time.Time // first SYN
	syns          int
}

func (x *muxExchange) run(ctx context.Context, syn []byte) probe.Result {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Hour)
	}
	wait := firstRetransmit
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := sendRetry
		// Taken before the send: on loopback the answer can be read
		// before sendmsg returns.
		now := time.Now()
		switch err := x.path.sendOn(syn, x.dg); {
		case err == nil:
			if x.syns++; x.syns == 1 {
				x.sent = now
			}
			x.t.Log.Printf(1, "SYN %s -> %s seq=%d (#%d)", x.local, x.t.Addr, x.w.isn, x.syns)
			next, wait = wait, min(2*wait, maxRetransmit)
		case errors.Is(err, ErrMuxClosed):
			return closedResult()
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOBUFS):
			// The send queue is full (a burst of probes): try again in a
			// moment; only silence counts against the target.
			x.t.Log.Printf(1, "SYN not sent (%v): trying again", err)
		default:
			return probe.Fail(fmt.Sprintf("send SYN to %s", x.t.Addr), err)
		}
		timer.Reset(min(next, time.Until(deadline)))
		select {
		case r := <-x.w.ch:
			return x.answer(r)
		case <-ctx.Done():
			select {
			case r := <-x.w.ch: // it came in time
				return x.answer(r)
			default:
			}
			return x.noAnswer(ctx.Err())
		case <-x.m.done:
			return closedResult()
		case <-timer.C:
		}
		// An answer and the timer at once: the answer wins.
		select {
		case r := <-x.w.ch:
			return x.answer(r)
		default:
		}
		if !time.Now().Before(deadline) {
			// The context's own timer may fire a moment after its
			// deadline: do not send another SYN in that moment.
			return x.noAnswer(context.DeadlineExceeded)
		}
		if x.syns > 0 {
			x.t.Log.Printf(1, "no answer after %s: sending the SYN again", probe.Millis(time.Since(x.sent)))
		}
	}
}

func (x *muxExchange) noAnswer(err error) probe.Result {
	if x.syns == 0 {
		// Not one SYN left this host: we did not check.
		return probe.Fail(fmt.Sprintf("send SYN to %s", x.t.Addr), fmt.Errorf("%w: send queue full", sockopt.ErrSetup))
	}
	return noAnswer(x.t.Addr, x.syns, err)
}

func (x *muxExchange) answer(r reply) probe.Result {
	x.m.replies.Add(1)
	rtt := r.at.Sub(x.sent)
	if r.icmp != nil {
		x.t.Log.Printf(1, "%v", r.icmp)
		return rejected(x.t.Addr, r.icmp, rtt)
	}
	s := r.seg
	if r.answer == open {
		x.t.Log.Printf(1, "SYN+ACK from %s seq=%d ack=%d", x.t.Addr, s.Seq, s.Ack)
		x.reset()
	} else {
		x.t.Log.Printf(1, "RST from %s seq=%d ack=%d", x.t.Addr, s.Seq, s.Ack)
	}
	return verdict(r.answer, x.t.Addr, rtt, x.syns)
}

// reset answers a SYN+ACK with our own RST, as the Prober does.
func (x *muxExchange) reset() {
	tcp, err := segment{Src: x.local, Dst: x.remote, Seq: x.w.isn + 1, RST: true}.encode()
	if err == nil {
		err = x.path.sendOn(withIPHeader(tcp, x.local.Addr(), x.remote.Addr()), x.dg)
	}
	if err != nil {
		x.t.Log.Printf(1, "RST not sent: %v", err)
		return
	}
	x.t.Log.Printf(1, "RST %s -> %s seq=%d", x.local, x.t.Addr, x.w.isn+1)
}

// muxBatch is how many packets the reader takes per recvmmsg(2), and
// muxSnap how much of each (the filter keeps 256 bytes: headers only).
const (
	muxBatch = 32
	muxSnap  = 256
)

// batch is the reader's buffers, allocated once: reading a packet
// allocates nothing, so no flood of packets can grow the heap.
type batch struct {
	msgs  [muxBatch]unix.Mmsghdr
	iov   [muxBatch]unix.Iovec
	bufs  [muxBatch][muxSnap]byte
	names [muxBatch]unix.RawSockaddrInet6 // large enough for IPv4 too
	oob   [muxBatch][64]byte
}

func newBatch(v6 bool) *batch {
	b := new(batch)
	for i := range b.msgs {
		b.iov[i].Base = &b.bufs[i][0]
		b.iov[i].SetLen(muxSnap)
		h := &b.msgs[i].Hdr
		h.Iov = &b.iov[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		if v6 {
			h.Control = &b.oob[i][0]
		}
	}
	return b
}

// reset restores the lengths the kernel overwrote.
func (b *batch) reset(v6 bool) {
	for i := range b.msgs {
		h := &b.msgs[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		if v6 {
			h.SetControllen(len(b.oob[i]))
		}
		h.Flags = 0
		b.msgs[i].Len = 0
	}
}

// poll hands the receiving socket to Go's poller. A reader blocked in
// recvmmsg(2) itself would hold its P in a system call, and the runtime's
// monitor (sysmon), finding Ps in system calls, wakes every 20 us to take
// them back instead of sleeping: on a VM where a context switch is dear
// that cost a watched probe more than its own packets.
func (f *muxFamily) poll() error {
	if err := unix.SetNonblock(f.recv, true); err != nil {
		return fmt.Errorf("non-blocking: %w", err)
	}
	f.file = os.NewFile(uintptr(f.recv), famName(f.v6)+" raw-recv")
	rc, err := f.file.SyscallConn()
	if err != nil {
		return err
	}
	// Only a file in the poller takes a deadline: one it refused
	// (epoll_ctl failed) would leave the reader unable to wait.
	if err := f.file.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("poller: %w", err)
	}
	f.rc = rc
	return nil
}

// read is a family's reader: it waits in the poller until a packet or an
// error arrives, takes what is queued and hands it out, until Close.
func (m *Mux) read(f *muxFamily) {
	defer close(f.done)
	b := newBatch(f.v6)
	var n int
	var err error
	recv := func(fd uintptr) bool {
		b.reset(f.v6)
		n, err = recvmmsg(int(fd), b.msgs[:], unix.MSG_DONTWAIT)
		switch {
		case err == nil, errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return false // nothing queued: park until the poller says so
		case errors.Is(err, unix.EBADF), errors.Is(err, unix.ENOTSOCK), errors.Is(err, unix.EFAULT), errors.Is(err, unix.EINVAL):
		default:
			// An ICMP error sets the socket's pending error, which the
			// read reports once; the error queue says whose SYN it was.
			m.drainErrQueue(int(fd), f.rd)
		}
		return true
	}
	for !m.closed.Load() {
		if f.rc.Read(recv) != nil {
			return // closed
		}
		switch {
		case err == nil:
			at := time.Now()
			m.readBatch.observe(n)
			for i := range n {
				m.handle(f, b, i, at)
			}
			m.finishReads(f.rd)
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EBADF), errors.Is(err, unix.ENOTSOCK), errors.Is(err, unix.EFAULT), errors.Is(err, unix.EINVAL):
			return
		default:
			m.finishReads(f.rd)
		}
	}
}

// handle reads one packet of a batch and hands it on (dispatch).
func (m *Mux) handle(f *muxFamily, b *batch, i int, at time.Time) {
	n := min(int(b.msgs[i].Len), muxSnap)
	pkt := b.bufs[i][:n]
	var s segment
	var err error
	if f.v6 {
		oob := b.oob[i][:min(int(b.msgs[i].Hdr.Controllen), len(b.oob[i]))]
		s, err = parseTCP(pkt, addr6(&b.names[i]), pktinfoDst(oob))
	} else {
		s, err = parseIPv4(pkt)
	}
	if err != nil {
		m.unmatched.Add(1)
		return
	}
	m.dispatch(s, at, f.rd)
}

// dispatch validates a reply by recomputing our ISN from its own
// addresses and ports (ack-1 must be the keyed hash of the 4-tuple, under
// the current or the previous secret): what fails is not ours, Unmatched,
// and costs no lookup. What passes goes to the sweep target or the
// single-path probe in flight on that 4-tuple, or counts as Late. An IPv6
// reply without its destination address (no IPV6_PKTINFO, which the
// socket always asks for) cannot be hashed: only the exact ISN the probe
// in flight holds then matches.
func (m *Mux) dispatch(s segment, at time.Time, rd *readerState) {
	if !s.ACK || (!s.SYN && !s.RST) {
		m.unmatched.Add(1)
		return
	}
	isn := s.Ack - 1
	validated := false
	if s.Dst.Addr().IsValid() {
		if !m.keys.valid(s.Dst, s.Src, isn) {
			m.unmatched.Add(1)
			return
		}
		validated = true
	}
	if m.sweepReply(s, isn, at, rd) {
		m.replies.Add(1)
		return
	}
	if m.flows.deliver(s, at) {
		return // counted in Replies by the probe
	}
	if validated {
		m.late.Add(1)
	} else {
		m.unmatched.Add(1)
	}
}

// drainErrQueue reads the ICMP errors queued on the socket.
func (m *Mux) drainErrQueue(fd int, rd *readerState) {
	var buf [muxSnap]byte
	var oob [256]byte
	for range 1024 {
		n, oobn, _, from, err := unix.Recvmsg(fd, buf[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		var dst netip.Addr
		if ap, ok := addrOf(from); ok {
			dst = ap.Addr()
		}
		m.receiveErr(oob[:oobn], buf[:n], dst, time.Now(), rd)
	}
}
