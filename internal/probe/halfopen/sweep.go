package halfopen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/polltimer"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// ErrSendFailed is the error of a sweep probe whose SYN the kernel would
// not send (a full queue after retries, a local firewall's EPERM): could
// not check, UNKNOWN, never down.
var ErrSendFailed = errors.New("could not send the SYN")

// routeRefresh is how long a sweep target's source address (the route's
// choice) is trusted before it is looked up again; a send that fails with
// EADDRNOTAVAIL or EINVAL (the address is gone) looks it up at the next
// sweep.
const routeRefresh = time.Minute

// SweepTarget is one watched target kept by the Mux between sweeps: the
// daemon allocates one per watch and reuses it for every probe, so a
// sweep allocates nothing per probe. Its exported fields are set before
// Register and not changed after.
type SweepTarget struct {
	Addr    netip.AddrPort  // a literal address
	Socket  sockopt.Options // --bind, --mark (the mark must be Prepared)
	Timeout time.Duration   // the probe's deadline from the moment its SYN is due
	// Done receives the verdict of each probe of this target, once per
	// Sweep that included it, called from a goroutine of the Mux; it must
	// not block. The Result is worded exactly as Mux.Probe words it, sent
	// is when the first SYN left.
	Done  func(t *SweepTarget, r probe.Result, sent time.Time)
	Owner any // the caller's

	s sweepSlot // guarded by the Mux's sweepState.mu
}

// sweepSlot is a target's state in the Mux.
type sweepSlot struct {
	// Set at Register.
	registered, gone bool
	same             *SweepTarget   // the next registered target of the same address
	remote           netip.AddrPort // unmapped, no zone
	snd              *sender
	path             *muxPath
	sa4              unix.RawSockaddrInet4
	sa6              unix.RawSockaddrInet6
	rot              uint32 // the port rotation: the range's rot-th port next

	src      netip.Addr // source address, the route's choice or --bind
	srcAt    mono
	srcStale bool

	// The probe in flight.
	inflight       bool
	gen            uint32
	local          netip.AddrPort
	isn            uint32
	due, sent      mono
	syns           int
	wait           time.Duration // until the SYN after next
	next, deadline mono
	key            mono // min(next, deadline): the heap's order
	hidx           int
}

// sweepState is the Mux's sweep side: the targets by address (built at
// Register: a reply finds its target with no per-probe insertion), and a
// min-heap of the probes in flight by their next action (a SYN again, or
// the deadline), served by one goroutine with one timer.
type sweepState struct {
	mu      sync.Mutex
	epoch   time.Time                       // what a mono counts from
	reg     map[netip.AddrPort]*SweepTarget // the first of a chain by sweepSlot.same
	heap    []*SweepTarget
	ended   []sweepDone // ended outside the loop (a failed send), for it to report
	closed  bool        // the loop has ended: report at once
	wake    chan struct{}
	stopped chan struct{}

	call  sync.Mutex // one Sweep at a time, for its buffers
	items []sendItem
	fails []sendFailure
}

func (sw *sweepState) init() {
	sw.epoch = time.Now()
	sw.reg = make(map[netip.AddrPort]*SweepTarget)
	sw.wake = make(chan struct{}, 1)
}

// doneKind says how a probe ended.
type doneKind uint8

const (
	doneAnswer doneKind = iota // SYN+ACK or RST
	doneICMP
	doneSilence
	doneFailed // could not check: res holds the Result
)

// sweepDone is a probe that ended, with what its Result needs copied out
// of the target under the lock (the target may start its next probe
// before Done runs).
type sweepDone struct {
	t         *SweepTarget
	kind      doneKind
	ans       answer
	icmp      *icmpError
	at        time.Time
	due, sent time.Time
	syns      int
	res       probe.Result
}

// readerState is a reader goroutine's buffers for one read batch.
type readerState struct {
	dones []sweepDone
	rsts  []sendItem
	fails []sendFailure
}

func newReaderState() *readerState {
	return &readerState{dones: make([]sweepDone, 0, 2*muxBatch), rsts: make([]sendItem, 0, 2*muxBatch),
		fails: make([]sendFailure, 0, 2*muxBatch)}
}

// Register makes t a target of Sweep: once per watch. The error is why t
// cannot be probed (its family has no socket, a multicast address, a mark
// not prepared, a --bind of the other family...): could not check.
func (m *Mux) Register(t *SweepTarget) error {
	if m == nil {
		return fmt.Errorf("%w: half-open probes need CAP_NET_RAW, which lbcheckd lacked at start", ErrNoPrivilege)
	}
	if m.closed.Load() {
		return ErrMuxClosed
	}
	if t.Done == nil || t.Timeout <= 0 {
		return fmt.Errorf("%w: sweep target %s: no Done or no Timeout", sockopt.ErrSetup, t.Addr)
	}
	remote := netip.AddrPortFrom(t.Addr.Addr().Unmap(), t.Addr.Port())
	i := 0
	if !remote.Addr().Is4() {
		i = 1
	}
	f := m.fams[i]
	if f == nil {
		return fmt.Errorf("%w: no %s raw socket: %v", sockopt.ErrSetup, famName(i == 1), m.famErr[i])
	}
	path, err := f.pathFor(remote.Addr(), t.Socket)
	if err != nil {
		return err
	}
	if b := t.Socket.Bind; b.IsValid() && b.Unmap().Is4() != remote.Addr().Is4() {
		return fmt.Errorf("%w: source %s and target %s are not of one address family", sockopt.ErrSetup, b, remote.Addr())
	}
	if b := t.Socket.Bind; b.IsValid() {
		if err := localSource(b.Unmap()); err != nil {
			return err
		}
	}
	sa, err := sockaddr(netip.AddrPortFrom(remote.Addr(), 0))
	if err != nil {
		return err
	}
	var rot [4]byte
	if err := getrandom(rot[:]); err != nil {
		return fmt.Errorf("%w: %v", sockopt.ErrSetup, err)
	}
	m.sw.mu.Lock()
	defer m.sw.mu.Unlock()
	if t.s.registered {
		if !t.s.gone {
			return fmt.Errorf("%w: sweep target %s registered twice", sockopt.ErrSetup, t.Addr)
		}
		t.s.gone = false // unregistered while in flight, back before it ended
		return nil
	}
	key := netip.AddrPortFrom(remote.Addr().WithZone(""), remote.Port())
	t.s = sweepSlot{registered: true, remote: key, path: path, snd: path.snd,
		rot: binary.NativeEndian.Uint32(rot[:]), hidx: -1}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		t.s.sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: sa.Addr}
	case *unix.SockaddrInet6:
		t.s.sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: sa.Addr, Scope_id: sa.ZoneId}
	}
	if b := t.Socket.Bind; b.IsValid() {
		t.s.src = b.Unmap().WithZone("")
	}
	m.sw.list(t)
	return nil
}

// Unregister ends t's watch. A probe in flight still gets its Done, by
// its deadline at the latest.
func (m *Mux) Unregister(t *SweepTarget) {
	if m == nil {
		return
	}
	m.sw.mu.Lock()
	defer m.sw.mu.Unlock()
	if !t.s.registered {
		return
	}
	t.s.gone = true
	if !t.s.inflight {
		m.sw.unlist(t)
	}
}

// list puts t in the registry, first of its address's chain: a map entry
// an address, not a slice, for 65,536 targets of as many addresses. The
// caller holds mu.
func (sw *sweepState) list(t *SweepTarget) {
	t.s.same = sw.reg[t.s.remote]
	sw.reg[t.s.remote] = t
}

// unlist takes t out of the registry. The caller holds mu.
func (sw *sweepState) unlist(t *SweepTarget) {
	switch first := sw.reg[t.s.remote]; {
	case first == t && t.s.same == nil:
		delete(sw.reg, t.s.remote)
	case first == t:
		sw.reg[t.s.remote] = t.s.same
	default:
		for u := first; u != nil; u = u.s.same {
			if u.s.same == t {
				u.s.same = t.s.same
				break
			}
		}
	}
	t.s.same = nil
	t.s.registered, t.s.gone = false, false
}

// busy says whether a sweep probe to remote from port is in flight. The
// caller holds mu.
func (sw *sweepState) busy(remote netip.AddrPort, port uint16) bool {
	for t := sw.reg[remote]; t != nil; t = t.s.same {
		if t.s.inflight && t.s.local.Port() == port {
			return true
		}
	}
	return false
}

// acquire is the single path's port and ISN (flowTable.acquire), aware of
// the sweeps in flight.
func (m *Mux) acquire(src netip.Addr, remote netip.AddrPort) (*waiter, error) {
	now := time.Now()
	m.sw.mu.Lock()
	defer m.sw.mu.Unlock()
	return m.flows.acquire(m.ports, src, remote, now, m.sw.busy, func(l, r netip.AddrPort) uint32 { return m.keys.isn(l, r, now) })
}

// Sweep sends one probe to each target now, the SYNs in sendmmsg batches;
// it never blocks on the network. A target already in flight is skipped
// (Done is not called for it a second time). A target whose probe cannot
// be sent (a full queue after retries, EPERM from a firewall, no route)
// gets Done with an UNKNOWN Result: never a "down".
func (m *Mux) Sweep(ts []*SweepTarget) {
	sw := &m.sw
	sw.call.Lock()
	defer sw.call.Unlock()
	now := time.Now()
	items := sw.items[:0]
	var failed []sweepDone // rare: allocated only when something fails
	sw.mu.Lock()
	for _, t := range ts {
		if t.s.inflight {
			continue
		}
		if sw.closed || m.closed.Load() {
			failed = append(failed, sweepDone{t: t, kind: doneFailed, res: closedResult()})
			continue
		}
		if !t.s.registered || t.s.gone {
			failed = append(failed, sweepDone{t: t, kind: doneFailed,
				res: probe.Fail("half-open sweep", fmt.Errorf("%w: %s is not registered", sockopt.ErrSetup, t.Addr))})
			continue
		}
		if !t.Socket.Bind.IsValid() && (t.s.srcStale || !t.s.src.IsValid() || sw.since(t.s.srcAt, now) >= routeRefresh) {
			src, err := t.s.path.source(t.s.remote)
			if err != nil {
				// No route: the SYN cannot leave, so could not check
				// (the single path has said CRITICAL since before sweeps).
				r := probe.Result{State: exitcode.Unknown, Err: fmt.Errorf("%w: %w", ErrSendFailed, err),
					Summary: fmt.Sprintf("send SYN to %s: %v", t.Addr, err)}
				if errors.Is(err, ErrMuxClosed) {
					r = closedResult()
				}
				failed = append(failed, sweepDone{t: t, kind: doneFailed, res: r})
				continue
			}
			t.s.src, t.s.srcAt, t.s.srcStale = src.WithZone(""), sw.mono(now), false
		}
		port, ok := m.sweepPort(t)
		if !ok {
			failed = append(failed, sweepDone{t: t, kind: doneFailed,
				res: probe.Fail("source port", fmt.Errorf("%w: %w: %s, range %s", sockopt.ErrSetup, errNoPort, t.s.remote, m.ports))})
			continue
		}
		s := &t.s
		s.local = netip.AddrPortFrom(s.src, port)
		s.isn = m.keys.isn(s.local, s.remote, now)
		s.inflight = true
		s.gen++
		s.due, s.sent, s.syns = sw.mono(now), sw.mono(now), 1
		s.wait = 2 * firstRetransmit
		s.next, s.deadline = sw.mono(now.Add(firstRetransmit)), sw.mono(now.Add(t.Timeout))
		s.key = min(s.next, s.deadline)
		sw.push(t)
		items = append(items, sendItem{t: t, gen: s.gen, snd: s.snd, local: s.local, seq: s.isn})
	}
	sent := sw.mono(time.Now())
	for _, it := range items {
		it.t.s.sent = sent // taken before the send: on loopback the answer can come first
	}
	sw.mu.Unlock()
	sw.fails = sw.fails[:0]
	m.sendItems(items, &sw.fails) // a field: a local's address would escape
	failed = m.sendFailed(sw.fails, failed)
	clear(items)
	sw.items, sw.fails = items[:0], sw.fails[:0]
	if len(failed) > 0 {
		sw.mu.Lock()
		if !sw.closed {
			sw.ended = append(sw.ended, failed...)
			failed = nil
		}
		sw.mu.Unlock()
		// The loop has ended (Close): nobody else will report them.
		m.complete(failed)
	}
	select {
	case sw.wake <- struct{}{}:
	default:
	}
}

// sweepPort is the next port of t's rotation that no probe to its target
// has in flight; false if every one has. The caller holds mu.
func (m *Mux) sweepPort(t *SweepTarget) (uint16, bool) {
	for range m.ports.Len() {
		p := m.ports.port(t.s.rot)
		t.s.rot++
		if !m.sw.busy(t.s.remote, p) && !m.flows.busy(t.s.remote, p) {
			return p, true
		}
	}
	return 0, false
}

// sendFailed ends the probes whose SYN could not be sent, appending them
// to out. A SYN sent again that met a full queue only does not count.
func (m *Mux) sendFailed(fails []sendFailure, out []sweepDone) []sweepDone {
	if len(fails) == 0 {
		return out
	}
	m.sw.mu.Lock()
	defer m.sw.mu.Unlock()
	for _, f := range fails {
		t := f.item.t
		if f.item.rst || !t.s.inflight || t.s.gen != f.item.gen {
			continue
		}
		if errors.Is(f.err, unix.EADDRNOTAVAIL) || errors.Is(f.err, unix.EINVAL) {
			t.s.srcStale = true
		}
		if f.item.retx && (errors.Is(f.err, unix.EAGAIN) || errors.Is(f.err, unix.ENOBUFS)) {
			t.s.syns--
			continue
		}
		d := m.endLocked(t, doneFailed)
		if errors.Is(f.err, ErrMuxClosed) {
			d.res = closedResult()
		} else {
			d.res = probe.Result{State: exitcode.Unknown, Err: fmt.Errorf("%w: %w", ErrSendFailed, f.err),
				Summary: fmt.Sprintf("send SYN to %s: %s", t.Addr, probe.Describe(f.err))}
		}
		out = append(out, d)
	}
	return out
}

// endLocked ends t's probe: out of the heap, and out of the registry if
// it was unregistered meanwhile. The caller holds mu.
func (m *Mux) endLocked(t *SweepTarget, kind doneKind) sweepDone {
	s := &t.s
	s.inflight = false
	if s.hidx >= 0 {
		m.sw.remove(s.hidx)
	}
	d := sweepDone{t: t, kind: kind, due: m.sw.time(s.due), sent: m.sw.time(s.sent), syns: s.syns}
	if s.gone {
		m.sw.unlist(t)
	}
	return d
}

// sweepReply hands a validated TCP reply to the sweep probe in flight on
// its 4-tuple, and queues our RST after a SYN+ACK; false if no sweep
// probe is waiting for it.
func (m *Mux) sweepReply(s segment, isn uint32, at time.Time, rd *readerState) bool {
	sw := &m.sw
	sw.mu.Lock()
	defer sw.mu.Unlock()
	for t := sw.reg[s.Src]; t != nil; t = t.s.same {
		ts := &t.s
		if !ts.inflight || ts.local.Port() != s.Dst.Port() || ts.isn != isn ||
			(s.Dst.Addr().IsValid() && s.Dst.Addr() != ts.local.Addr()) {
			continue
		}
		a := judge(s, ts.local, ts.remote, isn)
		if a == unrelated {
			return false
		}
		if a == open {
			rd.rsts = append(rd.rsts, sendItem{t: t, gen: ts.gen, snd: ts.snd, local: ts.local, seq: isn + 1, rst: true})
		}
		d := m.endLocked(t, doneAnswer)
		d.ans, d.at = a, at
		rd.dones = append(rd.dones, d)
		return true
	}
	return false
}

// receiveErr hands an ICMP error from the error queue to the probe whose
// SYN it quotes: a sweep's, validated by the keyed hash from the
// target's source address, or a single-path probe's.
func (m *Mux) receiveErr(oob, payload []byte, dst netip.Addr, at time.Time, rd *readerState) {
	ie, sport, dport, seq, err := parseErrQueue(oob, payload)
	if err != nil {
		m.unmatched.Add(1)
		return
	}
	remote := netip.AddrPortFrom(dst.WithZone(""), dport)
	sw := &m.sw
	sw.mu.Lock()
	for t := sw.reg[remote]; t != nil; t = t.s.same {
		ts := &t.s
		if ts.inflight && ts.local.Port() == sport && ts.isn == seq && m.keys.valid(ts.local, remote, seq) {
			d := m.endLocked(t, doneICMP)
			d.icmp, d.at = ie, at
			rd.dones = append(rd.dones, d)
			sw.mu.Unlock()
			m.replies.Add(1)
			return
		}
	}
	sw.mu.Unlock()
	if !m.flows.deliverErr(ie, sport, dport, seq, dst, at) {
		m.unmatched.Add(1)
	}
}

// finishReads sends the RSTs a read batch queued, in one sendmmsg per
// path, and reports the probes it ended.
func (m *Mux) finishReads(rd *readerState) {
	m.sendRSTs(rd)
	if len(rd.dones) > 0 {
		m.complete(rd.dones)
		clear(rd.dones)
		rd.dones = rd.dones[:0]
	}
}

// sendRSTs sends the RSTs a read batch queued.
func (m *Mux) sendRSTs(rd *readerState) {
	if len(rd.rsts) > 0 {
		m.sendItems(rd.rsts, &rd.fails) // a lost RST is counted, and the kernel sends its own
		clear(rd.rsts)
		rd.rsts, rd.fails = rd.rsts[:0], rd.fails[:0]
	}
}

// complete calls Done for each ended probe, with its Result worded as
// Mux.Probe words it.
func (m *Mux) complete(ds []sweepDone) {
	for i := range ds {
		d := &ds[i]
		d.t.Done(d.t, d.result(), d.sent)
	}
}

func (d *sweepDone) result() probe.Result {
	t := d.t
	setup := probe.Phase{Name: "setup", Duration: d.sent.Sub(d.due)}
	var r probe.Result
	switch d.kind {
	case doneFailed:
		return d.res
	case doneSilence:
		r = noAnswer(t.Addr, d.syns, context.DeadlineExceeded)
	case doneICMP:
		r = rejected(t.Addr, d.icmp, d.at.Sub(d.sent))
	default:
		return verdict(d.ans, t.Addr, d.at.Sub(d.sent), d.syns, setup) // the common case: one allocation fewer
	}
	r.Phases = append([]probe.Phase{setup}, r.Phases...)
	return r
}

// sweepLoop is the one goroutine that sends the SYNs again and ends the
// probes at their deadline, in batches: it sleeps until the heap's first
// action is due (or Sweep wakes it), and takes every action due then.
func (m *Mux) sweepLoop() {
	sw := &m.sw
	defer close(sw.stopped)
	timer := polltimer.New() // see polltimer: no runtime timer, no sysmon wake-up
	defer timer.Close()
	var items []sendItem
	var fails []sendFailure
	var dones []sweepDone
	for {
		sw.mu.Lock()
		now := time.Now()
		dones = append(dones, sw.ended...)
		clear(sw.ended)
		sw.ended = sw.ended[:0]
		at := sw.mono(now)
		for len(sw.heap) > 0 && sw.heap[0].s.key <= at {
			t := sw.heap[0]
			s := &t.s
			if at >= s.deadline {
				dones = append(dones, m.endLocked(t, doneSilence))
				continue
			}
			s.syns++
			s.next = sw.mono(now.Add(s.wait))
			s.wait = min(2*s.wait, maxRetransmit)
			s.key = min(s.next, s.deadline)
			sw.fix(0)
			items = append(items, sendItem{t: t, gen: s.gen, snd: s.snd, local: s.local, seq: s.isn, retx: true})
		}
		wait := time.Hour
		if len(sw.heap) > 0 {
			wait = time.Duration(sw.heap[0].s.key - at)
		}
		sw.mu.Unlock()
		if len(items) > 0 {
			m.sendItems(items, &fails)
			dones = m.sendFailed(fails, dones)
			clear(items)
			items, fails = items[:0], fails[:0]
		}
		m.complete(dones)
		clear(dones)
		dones = dones[:0]
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-sw.wake:
		case <-m.done:
			sw.mu.Lock()
			sw.closed = true
			for len(sw.heap) > 0 {
				d := m.endLocked(sw.heap[0], doneFailed)
				d.res = closedResult()
				dones = append(dones, d)
			}
			dones = append(dones, sw.ended...)
			sw.ended = nil
			sw.mu.Unlock()
			m.complete(dones)
			return
		}
	}
}

// mono is a moment as nanoseconds since the sweep state's epoch, on the
// monotonic clock: 8 bytes where a time.Time takes 24, in the state a
// sweep keeps for every watched target (65,536 of them: 6 MB less).
type mono int64

func (sw *sweepState) mono(t time.Time) mono                     { return mono(t.Sub(sw.epoch)) }
func (sw *sweepState) time(m mono) time.Time                     { return sw.epoch.Add(time.Duration(m)) }
func (sw *sweepState) since(m mono, now time.Time) time.Duration { return now.Sub(sw.time(m)) }

// The heap of probes in flight, by key: a binary min-heap kept by hand
// (each target knows its index), so that an answer takes its probe out in
// O(log n) and nothing is allocated per probe.

func (sw *sweepState) less(i, j int) bool { return sw.heap[i].s.key < sw.heap[j].s.key }

func (sw *sweepState) swap(i, j int) {
	h := sw.heap
	h[i], h[j] = h[j], h[i]
	h[i].s.hidx, h[j].s.hidx = i, j
}

func (sw *sweepState) push(t *SweepTarget) {
	t.s.hidx = len(sw.heap)
	sw.heap = append(sw.heap, t)
	sw.up(t.s.hidx)
}

func (sw *sweepState) remove(i int) {
	n := len(sw.heap) - 1
	t := sw.heap[i]
	if i != n {
		sw.swap(i, n)
	}
	sw.heap[n] = nil
	sw.heap = sw.heap[:n]
	t.s.hidx = -1
	if i < n {
		sw.fix(i)
	}
}

func (sw *sweepState) fix(i int) {
	if !sw.down(i) {
		sw.up(i)
	}
}

func (sw *sweepState) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !sw.less(i, p) {
			return
		}
		sw.swap(i, p)
		i = p
	}
}

func (sw *sweepState) down(i int) bool {
	start, n := i, len(sw.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && sw.less(r, l) {
			j = r
		}
		if !sw.less(j, i) {
			break
		}
		sw.swap(i, j)
		i = j
	}
	return i > start
}
