package halfopen

import (
	"fmt"
	"net/netip"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/probe"
)

// What a sweep costs per probe, part by part, on this namespace's
// loopback (see mux_bench_test.go for how CPU is counted):
//
//	go test -run '^$' -bench 'Sweep' ./internal/probe/halfopen/
//
// send: SYNs built and sent in sendmmsg batches to a device that drops
// them: the kernel's send path without a receiver. receive: a batch
// of SYN+ACKs handed to the reader's code (parse, validate by hash, find
// the target, queue and send the RSTs through a no-op sendmmsg), with and
// without wording the verdicts. round-trip: a sweep of 1,024 AnyIP
// targets on loopback, until every Done, the server's kernel included.

var sinkOnce sync.Once

// sinkTargets are n addresses routed out of a veth whose peer is down:
// what is sent there is dropped when it reaches the device (no dummy
// driver here), so the kernel's whole send path is counted and no
// receiver's.
func sinkTargets(b *testing.B, n int) []netip.AddrPort {
	var err error
	sinkOnce.Do(func() {
		for _, args := range [][]string{
			{"link", "add", "lbsink0", "type", "veth", "peer", "name", "lbsink1"},
			{"link", "set", "lbsink0", "up"},
			{"addr", "add", "10.96.0.1/24", "dev", "lbsink0"},
			{"neigh", "add", "10.96.0.2", "lladdr", "02:00:00:00:00:02", "dev", "lbsink0", "nud", "permanent"},
			{"route", "add", "10.97.0.0/16", "via", "10.96.0.2", "dev", "lbsink0", "onlink"},
		} {
			if out, e := exec.Command("ip", args...).CombinedOutput(); e != nil {
				err = fmt.Errorf("ip %v: %v: %s", args, e, out)
				return
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	addrs := make([]netip.AddrPort, n)
	for i := range addrs {
		addrs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 97, byte(i >> 8), byte(i)}), 80)
	}
	return addrs
}

func perProbe(b *testing.B, probes int, cpu time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(probes), "ns/probe")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/1e3/float64(probes), "cpu-µs/probe")
}

func BenchmarkSweepSend(b *testing.B) {
	m := testMux(b)
	noop := func(*SweepTarget, probe.Result, time.Time) {}
	ts := make([]*SweepTarget, 1024)
	for i, a := range sinkTargets(b, len(ts)) {
		ts[i] = &SweepTarget{Addr: a, Timeout: time.Minute, Done: noop}
		if err := m.Register(ts[i]); err != nil {
			b.Fatal(err)
		}
	}
	m.Sweep(ts) // route lookups, buffers
	endAll(m, ts)
	cpu := cpuTime()
	probes := 0
	for b.Loop() {
		m.Sweep(ts)
		endAll(m, ts)
		probes += len(ts)
	}
	perProbe(b, probes, cpu)
	if s := m.Stats(); s.SendErrors["other"]+s.SendErrors["enobufs"] > 0 {
		b.Fatalf("send errors: %v", s.SendErrors)
	}
	b.ReportMetric(float64(m.Stats().SentBatch.Sum)/float64(m.Stats().SentBatch.Count), "pkts/sendmmsg")
}

func BenchmarkSweepReceive(b *testing.B) {
	for _, verdict := range []bool{false, true} {
		b.Run(map[bool]string{false: "validate+deliver+rst", true: "with-verdict"}[verdict], func(b *testing.B) {
			m := testMux(b)
			m.sendmmsg = func(_ int, msgs []unix.Mmsghdr) (int, error) { return len(msgs), nil }
			var done atomic.Int64
			count := func(*SweepTarget, probe.Result, time.Time) { done.Add(1) }
			ts := make([]*SweepTarget, muxBatch)
			for i := range ts {
				ts[i] = &SweepTarget{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+i)), Timeout: time.Minute, Done: count}
				if err := m.Register(ts[i]); err != nil {
					b.Fatal(err)
				}
			}
			m.Sweep(ts)
			f, batch := &muxFamily{rd: newReaderState()}, newBatch(false)
			for i, st := range ts {
				s := segment{Src: st.s.remote, Dst: st.s.local, Seq: 7, Ack: st.s.isn + 1, SYN: true, ACK: true}
				batch.msgs[i].Len = uint32(copy(batch.bufs[i][:], ipv4Packet(b, s, 5)))
			}
			cpu := cpuTime()
			probes := 0
			for b.Loop() {
				m.sw.mu.Lock()
				for _, st := range ts {
					if !st.s.inflight {
						st.s.inflight = true
						m.sw.push(st)
					}
				}
				m.sw.mu.Unlock()
				at := time.Now()
				for i := range ts {
					m.handle(f, batch, i, at)
				}
				if verdict {
					m.finishReads(f.rd)
				} else {
					m.sendRSTs(f.rd)
					clear(f.rd.dones)
					f.rd.dones = f.rd.dones[:0]
				}
				probes += len(ts)
			}
			perProbe(b, probes, cpu)
			if verdict && done.Load() < int64(probes) {
				b.Fatalf("%d Done calls for %d replies", done.Load(), probes)
			}
			endAll(m, ts)
		})
	}
}

func BenchmarkSweepRoundTrip(b *testing.B) {
	m := testMux(b)
	addrs, _ := anyIPTargets(b, 1024)
	var done atomic.Int64
	var bad atomic.Int64
	all := make(chan struct{}, 1)
	n := int64(len(addrs))
	each := func(_ *SweepTarget, r probe.Result, _ time.Time) {
		if r.State != 0 {
			bad.Add(1)
		}
		if done.Add(1)%n == 0 {
			all <- struct{}{}
		}
	}
	ts := make([]*SweepTarget, len(addrs))
	for i, a := range addrs {
		ts[i] = &SweepTarget{Addr: a, Timeout: 2 * time.Second, Done: each}
		if err := m.Register(ts[i]); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime()
	probes := 0
	for b.Loop() {
		m.Sweep(ts)
		<-all
		probes += len(ts)
	}
	perProbe(b, probes, cpu)
	if bad.Load() > 0 {
		b.Fatalf("%d probes not OK", bad.Load())
	}
	s := m.Stats()
	b.ReportMetric(float64(s.SentBatch.Sum)/float64(s.SentBatch.Count), "pkts/sendmmsg")
	b.ReportMetric(float64(s.ReadBatch.Sum)/float64(s.ReadBatch.Count), "pkts/recvmmsg")
}
