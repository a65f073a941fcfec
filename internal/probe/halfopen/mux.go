package halfopen

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
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
// socket hands each reply to its probe by the target's address and port,
// our source port and ack == ISN+1 (ICMP errors by the SYN they quote).
// Packets are sent from raw IPPROTO_RAW sockets, one per family and
// firewall mark, with the IP header written here. Source ports are
// reserved per probe, as the Prober does.
//
// Every socket that needs CAP_NET_RAW (or CAP_NET_ADMIN for a mark) is
// opened by OpenMux and Prepare, so that the process can drop every
// capability afterwards (DropCaps) and keep probing. A Mux is safe for
// concurrent use.
type Mux struct {
	fams    [2]*muxFamily // IPv4, IPv6; nil if it could not be opened
	famErr  [2]error      // why
	missing error         // both, for Missing

	flows *flowTable
	ports *portPool

	done      chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	fdMu      sync.RWMutex // Stats reads the receiving sockets, Close closes them

	replies, unmatched atomic.Uint64
}

// muxFamily is one address family: its receiving socket and reader, and
// its sending paths by mark.
type muxFamily struct {
	v6    bool
	recv  int // blocking: see openReceiver
	done  chan struct{}
	mu    sync.RWMutex
	paths map[uint32]*muxPath
}

// MuxStats are the Mux's counters, for the daemon's /metrics.
type MuxStats struct {
	InFlight  int    // probes waiting for an answer
	Replies   uint64 // answers handed to a probe (SYN+ACK, RST, ICMP)
	Unmatched uint64 // packets read that answered no probe in flight
	// Dropped counts the packets the kernel dropped because the receive
	// queue was full (the reader fell behind a burst); their probes
	// retransmit.
	Dropped uint64
	// The sweep API's (h9-sweep fills them; added here only so that the
	// daemon compiles before it lands: Go cannot add fields from the stub).
	Late          uint64
	SendErrors    map[string]uint64
	SentBatch     BatchHistogram
	ReadBatch     BatchHistogram
	SweepInFlight int
}

// OpenMux opens the receiving socket of each address family, starts their
// readers, and prepares sending without a mark. A family the host lacks
// (no IPv6) is left out, and probes to it are UNKNOWN: the error is then
// nil and Missing says why. Without CAP_NET_RAW the error wraps
// ErrNoPrivilege. Call it, and Prepare for every mark, before DropCaps.
func OpenMux() (*Mux, error) { return openMux(openReceiver) }

// openMux is OpenMux with the receiving sockets from open, so that a test
// can make a family fail.
func openMux(open func(v6 bool) (int, error)) (*Mux, error) {
	m := &Mux{flows: newFlowTable(), ports: newPortPool(), done: make(chan struct{})}
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
	if err := m.Prepare(sockopt.Options{}); err != nil {
		m.Close()
		return nil, err
	}
	for _, f := range m.fams {
		if f != nil {
			f.done = make(chan struct{})
			go m.read(f)
		}
	}
	return m, nil
}

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
	s := MuxStats{InFlight: m.flows.len(), Replies: m.replies.Load(), Unmatched: m.unmatched.Load()}
	m.fdMu.RLock()
	defer m.fdMu.RUnlock()
	for _, f := range m.fams {
		if f != nil && f.recv >= 0 {
			s.Dropped += uint64(socketDrops(f.recv))
		}
	}
	return s
}

// Close ends the readers and closes every socket. Probes waiting for an
// answer return at once, UNKNOWN with ErrMuxClosed, and so does any probe
// started later. Close returns once the readers have stopped.
func (m *Mux) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		close(m.done)
		for _, f := range m.fams {
			if f == nil {
				continue
			}
			// Wakes a reader blocked in recvmmsg (close(2) would not);
			// the receive timeout is the fallback.
			_ = unix.Shutdown(f.recv, unix.SHUT_RD)
			f.mu.Lock()
			for _, p := range f.paths {
				p.close()
			}
			f.mu.Unlock()
		}
		m.ports.close()
		m.fdMu.Lock()
		defer m.fdMu.Unlock()
		for _, f := range m.fams {
			if f != nil {
				if f.done != nil { // nil if its reader never started
					<-f.done
				}
				unix.Close(f.recv)
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
	if err := unicast(remote.Addr()); err != nil {
		return probe.Fail("raw socket", err)
	}
	f.mu.RLock()
	path := f.paths[t.Socket.Mark]
	f.mu.RUnlock()
	if path == nil {
		return probe.Fail("raw socket", fmt.Errorf("%w: no raw socket with mark %#x: a mark must be known when the prober opens, before privileges are dropped",
			sockopt.ErrSetup, t.Socket.Mark))
	}
	src := t.Socket.Bind
	if err := source(src); err != nil {
		return probe.Fail("raw socket", err)
	}
	if !src.IsValid() {
		var err error
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
	res, err := m.ports.get(src, remote)
	if err != nil {
		return probe.Fail("source port", err)
	}
	defer m.ports.put(src, res, remote)
	local := netip.AddrPortFrom(src, res.port)
	w, err := m.flows.add(local, remote)
	if err != nil {
		return probe.Fail("ISN", fmt.Errorf("%w: %v", sockopt.ErrSetup, err))
	}
	defer m.flows.remove(w)
	x := muxExchange{m: m, path: path, t: t, local: local, remote: remote, w: w}
	if x.dg, err = newDatagram(src.WithZone(""), remote.Addr()); err != nil {
		return probe.Fail("raw socket", err)
	}
	tcp, err := segment{Src: local, Dst: remote, Seq: w.key.isn, SYN: true}.encode()
	if err != nil {
		return probe.Fail("build SYN", err)
	}
	r := x.run(ctx, withIPHeader(tcp, src, remote.Addr()))
	if !x.sent.IsZero() {
		r.Phases = append([]probe.Phase{{Name: "setup", Duration: x.sent.Sub(start)}}, r.Phases...)
	}
	return r
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
			x.t.Log.Printf(1, "SYN %s -> %s seq=%d (#%d)", x.local, x.t.Addr, x.w.key.isn, x.syns)
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
	tcp, err := segment{Src: x.local, Dst: x.remote, Seq: x.w.key.isn + 1, RST: true}.encode()
	if err == nil {
		err = x.path.sendOn(withIPHeader(tcp, x.local.Addr(), x.remote.Addr()), x.dg)
	}
	if err != nil {
		x.t.Log.Printf(1, "RST not sent: %v", err)
		return
	}
	x.t.Log.Printf(1, "RST %s -> %s seq=%d", x.local, x.t.Addr, x.w.key.isn+1)
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

// read is a family's reader: it blocks in recvmmsg until a packet or an
// error arrives and hands out what it read, until Close.
func (m *Mux) read(f *muxFamily) {
	defer close(f.done)
	b := newBatch(f.v6)
	for !m.closed.Load() {
		b.reset(f.v6)
		// Blocks for the first packet only, then takes what is queued.
		n, err := recvmmsg(f.recv, b.msgs[:], unix.MSG_WAITFORONE)
		switch {
		case err == nil:
			at := time.Now()
			for i := range n {
				m.handle(f, b, i, at)
			}
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			// A signal, or the receive timeout: look at closed again.
		case errors.Is(err, unix.EBADF) || errors.Is(err, unix.ENOTSOCK) || errors.Is(err, unix.EFAULT) || errors.Is(err, unix.EINVAL):
			return
		default:
			// An ICMP error sets the socket's pending error, which the
			// read reports once; the error queue says whose SYN it was.
			m.drainErrQueue(f.recv)
		}
	}
}

func (m *Mux) handle(f *muxFamily, b *batch, i int, at time.Time) {
	n := min(int(b.msgs[i].Len), muxSnap)
	pkt := b.bufs[i][:n]
	var ok bool
	if f.v6 {
		oob := b.oob[i][:min(int(b.msgs[i].Hdr.Controllen), len(b.oob[i]))]
		ok = m.flows.receive6(pkt, addr6(&b.names[i]), pktinfoDst(oob), at)
	} else {
		ok = m.flows.receive4(pkt, at)
	}
	if !ok {
		m.unmatched.Add(1)
	}
}

// drainErrQueue reads the ICMP errors queued on the socket.
func (m *Mux) drainErrQueue(fd int) {
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
		if !m.flows.receiveErr(oob[:oobn], buf[:n], dst, time.Now()) {
			m.unmatched.Add(1)
		}
	}
}
