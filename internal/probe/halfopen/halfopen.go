package halfopen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// Outcomes, for errors.Is on Result.Err.
var (
	ErrClosed      = errors.New("port closed (RST)")
	ErrFiltered    = errors.New("no answer (filtered?)")
	ErrUnreachable = errors.New("rejected by ICMP")
	ErrNoPrivilege = errors.New("no permission to open a raw socket")
)

// firstRetransmit is when the SYN is sent again if nothing came back; each
// later wait is twice the one before, up to maxRetransmit. A lost SYN on a
// LAN is rare, and a health check's deadline is short: wait a little, not
// the kernel's 1 s.
const (
	firstRetransmit = 250 * time.Millisecond
	maxRetransmit   = 2 * time.Second
)

// Prober sends half-open probes. It keeps its raw socket between attempts,
// because after the first one its capabilities may be gone.
type Prober struct {
	// DropCaps drops every capability once the raw socket is open. The
	// binary sets it; in-process tests leave it off, or their next test
	// could not open a raw socket.
	DropCaps bool

	raw     *os.File
	fd      int
	local   netip.Addr // the raw socket's source address
	remote  netip.Addr // and the address it is connected to
	dropped bool
}

// Close releases the raw socket.
func (p *Prober) Close() error {
	if p.raw == nil {
		return nil
	}
	err := p.raw.Close()
	p.raw = nil
	return err
}

// Probe sends one SYN (again on a doubling schedule while nothing comes
// back) to t.Addr and judges the answer.
func (p *Prober) Probe(ctx context.Context, t probe.Target) probe.Result {
	start := time.Now()
	if p.raw == nil || p.remote != t.Addr.Addr() {
		if err := p.open(t); err != nil {
			if errors.Is(err, ErrNoPrivilege) {
				return probe.Result{State: exitcode.Unknown, Summary: noPrivilegeHint(), Err: err}
			}
			return probe.Fail("raw socket", err)
		}
	}
	if p.DropCaps && !p.dropped {
		p.dropped = true
		p.dropCaps(t.Log)
	}

	port, release, err := reservePort(p.local)
	if err != nil {
		return probe.Fail("source port", err)
	}
	defer release()
	local := netip.AddrPortFrom(p.local, port)
	isn, err := randomISN()
	if err != nil {
		return probe.Fail("ISN", fmt.Errorf("%w: %v", sockopt.ErrSetup, err))
	}
	if err := attachFilter(p.fd, filter(local.Addr().Is4(), local.Port(), t.Addr.Port(), isn)); err != nil {
		return probe.Fail("BPF filter", fmt.Errorf("%w: %v", sockopt.ErrSetup, err))
	}
	// What queued before the filter changed is not ours.
	drain(p.fd)

	syn, err := segment{Src: local, Dst: t.Addr, Seq: isn, SYN: true}.encode()
	if err != nil {
		return probe.Fail("build SYN", err)
	}
	x := exchange{p: p, t: t, local: local, isn: isn}
	r := x.run(ctx, syn)
	if !x.sent.IsZero() { // nothing was sent if the first write failed
		r.Phases = append([]probe.Phase{{Name: "setup", Duration: x.sent.Sub(start)}}, r.Phases...)
	}
	return r
}

// open makes the raw socket for t's address family, bound to the source
// address and connected to t, so the kernel only queues what t sends.
func (p *Prober) open(t probe.Target) error {
	p.Close()
	if err := unicast(t.Addr.Addr()); err != nil {
		return err
	}
	src := t.Socket.Bind
	if err := source(src); err != nil {
		return err
	}
	if !src.IsValid() {
		var err error
		if src, err = routeSource(t.Addr, t.Socket.Mark); err != nil {
			return err
		}
	}
	if src.Is4() != t.Addr.Addr().Is4() {
		return fmt.Errorf("%w: source %s and target %s are not of one address family", sockopt.ErrSetup, src, t.Addr.Addr())
	}
	v6 := !t.Addr.Addr().Is4()
	fd, err := rawSocket(v6, unix.IPPROTO_TCP, true)
	if err != nil {
		return err
	}
	fail := func(err error) error { unix.Close(fd); return err }
	// Until the probe's own filter is attached, nothing is let through:
	// on a busy host every TCP segment would be copied to us.
	if err := attachFilter(fd, dropAll()); err != nil {
		return fail(fmt.Errorf("%w: BPF filter: %v", sockopt.ErrSetup, err))
	}
	if err := setMark(fd, t.Socket.Mark); err != nil {
		return fail(err)
	}
	if err := recvErr(fd, v6); err != nil {
		return fail(fmt.Errorf("%w: RECVERR: %v", sockopt.ErrSetup, err))
	}
	for _, step := range []struct {
		name string
		addr netip.Addr
		call func(int, unix.Sockaddr) error
	}{{"bind", src, unix.Bind}, {"connect", t.Addr.Addr(), unix.Connect}} {
		sa, err := sockaddr(netip.AddrPortFrom(step.addr, 0))
		if err == nil {
			err = step.call(fd, sa)
		}
		if step.name == "bind" && errors.Is(err, unix.EADDRNOTAVAIL) {
			return fail(fmt.Errorf("%w: bind %s: %v", sockopt.ErrSetup, src, err))
		}
		if err != nil {
			return fail(fmt.Errorf("%s %s: %w", step.name, step.addr, err))
		}
	}
	p.raw = os.NewFile(uintptr(fd), "raw-tcp") // non-blocking: served by Go's poller
	p.fd, p.local, p.remote = fd, src, t.Addr.Addr()
	t.Log.Printf(1, "raw socket %s -> %s open", src, t.Addr.Addr())
	return nil
}

func (p *Prober) dropCaps(log *probe.Log) {
	if err := DropCaps(); err != nil {
		log.Printf(1, "%v", err)
		return
	}
	if !log.Enabled(2) {
		log.Printf(1, "capabilities dropped on every thread")
		return
	}
	caps, err := ThreadCaps()
	if err != nil {
		log.Printf(2, "capabilities dropped; reading them back: %v", err)
		return
	}
	var lines []string
	for tid, c := range caps {
		lines = append(lines, tid+" "+c)
	}
	sort.Strings(lines)
	log.Printf(2, "capabilities dropped on %d threads: %s", len(lines), strings.Join(lines, ", "))
}

// unicast refuses a multicast target. connect(2) of a TCP socket refuses
// one (ENETUNREACH), a raw socket would send the SYN to every member of
// the group, and no member answers: the verdict could only be "filtered".
// A file capability must not give its caller what connect(2) does not.
func unicast(a netip.Addr) error {
	if a.IsMulticast() {
		return fmt.Errorf("%w: %s is a multicast address: a half-open check is for one host", sockopt.ErrSetup, a)
	}
	return nil
}

// source refuses a --bind address no SYN can come from: a multicast or
// broadcast address, or none (0.0.0.0, ::). A raw socket binds to them
// where a TCP socket would not, the kernel then sends nothing, and the
// verdict would be a "filtered" CRITICAL for what is could-not-check.
func source(a netip.Addr) error {
	if !a.IsValid() {
		return nil // the route's choice
	}
	a = a.Unmap()
	if a.IsMulticast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("%w: --bind %s: not an address a SYN can come from", sockopt.ErrSetup, a)
	}
	return nil
}

// exchange is one attempt: the SYN sent, and what we wait for.
type exchange struct {
	p     *Prober
	t     probe.Target
	local netip.AddrPort
	isn   uint32
	sent  time.Time // first SYN
	syns  int
}

func (x *exchange) run(ctx context.Context, syn []byte) probe.Result {
	// The file, not the Prober's field: AfterFunc may fire on the context's
	// timer goroutine while the caller is already closing the Prober.
	raw := x.p.raw
	stop := context.AfterFunc(ctx, func() { raw.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := raw.SyscallConn()
	if err != nil {
		return probe.Fail("raw socket", err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Hour)
	}
	wait := firstRetransmit
	for {
		if err := x.send(syn); err != nil {
			return probe.Fail(fmt.Sprintf("send SYN to %s", x.t.Addr), err)
		}
		resend := time.Now().Add(wait)
		wait = min(2*wait, maxRetransmit)
		if deadline.Before(resend) {
			resend = deadline
		}
		raw.SetReadDeadline(resend)
		// The deadline set just now may have overwritten the one
		// AfterFunc set on cancellation: look again.
		if ctx.Err() != nil {
			return x.noAnswer(ctx.Err())
		}
		var got *probe.Result
		var fatal error
		err := rc.Read(func(fd uintptr) bool {
			got, fatal = x.receive(int(fd))
			return got != nil || fatal != nil
		})
		switch {
		case got != nil:
			return *got
		case fatal != nil:
			return probe.Fail(fmt.Sprintf("receive from %s", x.t.Addr), fatal)
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return probe.Fail(fmt.Sprintf("receive from %s", x.t.Addr), err)
		case ctx.Err() != nil:
			return x.noAnswer(ctx.Err())
		case !time.Now().Before(deadline):
			// The context's own timer may fire a moment after its
			// deadline: do not send another SYN in that moment.
			return x.noAnswer(context.DeadlineExceeded)
		}
		x.t.Log.Printf(1, "no answer after %s: sending the SYN again", probe.Millis(time.Since(x.sent)))
	}
}

func (x *exchange) send(seg []byte) error {
	if _, err := unix.Write(x.p.fd, seg); err != nil {
		return err
	}
	if x.syns++; x.syns == 1 {
		x.sent = time.Now()
	}
	x.t.Log.Printf(1, "SYN %s -> %s seq=%d (#%d)", x.local, x.t.Addr, x.isn, x.syns)
	return nil
}

func (x *exchange) noAnswer(err error) probe.Result { return noAnswer(x.t.Addr, x.syns, err) }

// receive reads what is queued, error queue first, until a verdict or
// EAGAIN. It returns a result, a fatal error, or neither (keep waiting).
func (x *exchange) receive(fd int) (*probe.Result, error) {
	var buf [256]byte
	var oob [128]byte
	for range 64 {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if err != nil {
			break // EAGAIN: the error queue is empty
		}
		ie, sport, dport, seq, err := parseErrQueue(oob[:oobn], buf[:n])
		if err != nil || sport != x.local.Port() || dport != x.t.Addr.Port() || seq != x.isn {
			x.t.Log.Printf(2, "error queue: not about our SYN (%v)", err)
			continue
		}
		x.t.Log.Printf(1, "%v", ie)
		r := rejected(x.t.Addr, ie, time.Since(x.sent))
		return &r, nil
	}
	for range 256 {
		n, from, err := unix.Recvfrom(fd, buf[:], unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return nil, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EBADF) || errors.Is(err, unix.ENOTSOCK) || errors.Is(err, unix.EFAULT):
			return nil, err
		case err != nil:
			// An ICMP error also sets the socket's pending error, which
			// recvfrom reports once; whose SYN it was about only the
			// error queue says, and that was read above.
			x.t.Log.Printf(2, "recvfrom: %v", err)
			return nil, nil
		}
		if r := x.judge(buf[:n], from); r != nil {
			return r, nil
		}
	}
	return nil, nil
}

// judge turns one received packet into a verdict, or nil if it is not the
// answer to our SYN.
func (x *exchange) judge(b []byte, from unix.Sockaddr) *probe.Result {
	var s segment
	var err error
	if x.local.Addr().Is4() {
		s, err = parseIPv4(b)
	} else {
		// connect(2) already restricted the source to the target.
		s, err = parseTCP(b, netip.Addr{}, netip.Addr{})
	}
	if err != nil {
		x.t.Log.Printf(2, "ignored a packet: %v", err)
		return nil
	}
	local, remote := x.local, x.t.Addr
	rtt := time.Since(x.sent)
	switch judge(s, local, remote, x.isn) {
	case open:
		x.t.Log.Printf(1, "SYN+ACK from %s seq=%d ack=%d", remote, s.Seq, s.Ack)
		x.reset()
		r := verdict(open, remote, rtt, x.syns)
		return &r
	case closed:
		x.t.Log.Printf(1, "RST from %s seq=%d ack=%d", remote, s.Seq, s.Ack)
		r := verdict(closed, remote, rtt, x.syns)
		return &r
	}
	x.t.Log.Printf(2, "ignored %s -> %s flags %s", s.Src, s.Dst, s.flags())
	return nil
}

// verdict is the result of an answer to the SYN: the Prober and the Mux
// word it alike, so the binary and the daemon say the same.
// The phases before, if any, come first in its Phases: a sweep's setup,
// in the same allocation.
func verdict(a answer, remote netip.AddrPort, rtt time.Duration, syns int, before ...probe.Phase) probe.Result {
	// Summary set, not formatted with probe.OK("%s", ...): a sweep words
	// thousands of these a second.
	phases := make([]probe.Phase, len(before)+1)
	copy(phases, before)
	last := &phases[len(before)]
	last.Duration = rtt
	if a == open {
		last.Name = "syn-ack"
		return probe.Result{State: exitcode.OK, Summary: answered("port open (SYN+ACK)", remote, rtt, syns), Phases: phases}
	}
	last.Name = "rst"
	return probe.Result{State: exitcode.Critical, Summary: answered("port closed (RST)", remote, rtt, syns), Err: ErrClosed, Phases: phases}
}

// rejected is the result of an ICMP error about the SYN.
func rejected(remote netip.AddrPort, ie *icmpError, since time.Duration) probe.Result {
	r := probe.Critical("%s rejected: %v, %s after the SYN", remote, ie, probe.Millis(since))
	r.Err = fmt.Errorf("%w: %w", ErrUnreachable, ie)
	return r
}

// noAnswer is the result of silence until the deadline (or cancellation).
func noAnswer(remote netip.AddrPort, syns int, err error) probe.Result {
	s := "s"
	if syns == 1 {
		s = ""
	}
	return probe.Result{State: exitcode.Critical, Timeout: true, Err: fmt.Errorf("%w: %w", ErrFiltered, err),
		Summary: fmt.Sprintf("no answer (filtered?) from %s to %d SYN%s", remote, syns, s)}
}

// answered is the summary of a SYN+ACK or RST. Its time is the round trip
// from our first SYN, and says so: the perfdata's time beside it is the
// whole run.
func answered(what string, remote netip.AddrPort, rtt time.Duration, syns int) string {
	var buf [128]byte
	b := append(buf[:0], what...)
	b = append(b, " on "...)
	b = remote.AppendTo(b)
	b = append(b, ", "...)
	b = probe.AppendMillis(b, rtt)
	if syns > 1 {
		b = append(b, " after the first of "...)
		b = strconv.AppendInt(b, int64(syns), 10)
		b = append(b, " SYNs"...)
	} else {
		b = append(b, " after the SYN"...)
	}
	return string(b)
}

// reset answers a SYN+ACK with our own RST. The kernel sends one too (it
// knows no such connection), but a host firewall may drop it, and then the
// server keeps a SYN-RECV entry until its retries run out.
func (x *exchange) reset() {
	rst, err := segment{Src: x.local, Dst: x.t.Addr, Seq: x.isn + 1, RST: true}.encode()
	if err == nil {
		_, err = unix.Write(x.p.fd, rst)
	}
	if err != nil {
		x.t.Log.Printf(1, "RST not sent: %v", err)
		return
	}
	x.t.Log.Printf(1, "RST %s -> %s seq=%d", x.local, x.t.Addr, x.isn+1)
}

func (s segment) flags() string {
	var f []string
	for _, b := range []struct {
		on   bool
		name string
	}{{s.SYN, "SYN"}, {s.ACK, "ACK"}, {s.RST, "RST"}, {s.FIN, "FIN"}} {
		if b.on {
			f = append(f, b.name)
		}
	}
	return strings.Join(f, "+")
}

// drain discards whatever is queued on fd, data and errors.
func drain(fd int) {
	var buf [256]byte
	for range 1024 {
		if _, _, err := unix.Recvfrom(fd, buf[:], unix.MSG_DONTWAIT); errors.Is(err, unix.EAGAIN) {
			break
		}
	}
	for range 1024 {
		if _, _, _, _, err := unix.Recvmsg(fd, buf[:], nil, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT); err != nil {
			break
		}
	}
}

// randomISN asks the kernel's CSPRNG directly: crypto/rand would bring its
// FIPS module's package init into every run of the binary.
func randomISN() (uint32, error) {
	var b [4]byte
	for {
		n, err := unix.Getrandom(b[:], 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("getrandom: %w", err)
		}
		if n != len(b) {
			return 0, fmt.Errorf("getrandom: %d of %d bytes", n, len(b))
		}
		return binary.BigEndian.Uint32(b[:]), nil
	}
}

// noPrivilegeHint is the UNKNOWN line for a missing CAP_NET_RAW, with the
// exact command that fixes it.
func noPrivilegeHint() string {
	path, err := os.Executable()
	if err != nil {
		path = "/usr/lib/nagios/plugins/check_tcp_half_open"
	}
	return fmt.Sprintf("raw sockets need CAP_NET_RAW: run 'setcap cap_net_raw+ep %s' as root, or run as root", path)
}
