package halfopen

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// CPU per half-open probe, as getrusage(2) counts it for the whole
// process (user + system, every thread): the goal for lbcheckd is
// 0.08 ms a check. On loopback the server's side of the handshake (the
// kernel answering our SYN, and our RST) runs in our process too, so this
// overstates what a probe to another host costs. Measured, not asserted:
//
//	go test -run '^$' -bench 'Mux|Prober' -benchtime 10000x ./internal/probe/halfopen/

func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchProbes(b *testing.B, parallel int, probeOnce func(context.Context, probe.Target) probe.Result, addrs []netip.AddrPort) {
	b.Helper()
	var next atomic.Uint64
	cpu := cpuTime()
	b.ResetTimer()
	run := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		addr := addrs[next.Add(1)%uint64(len(addrs))]
		r := probeOnce(ctx, probe.Target{Addr: addr, Log: probe.NewLog(0)})
		cancel()
		if r.State != exitcode.OK {
			b.Errorf("%v: %s", r.State, r.Summary)
		}
	}
	if parallel <= 1 {
		for b.Loop() {
			run()
		}
	} else {
		b.SetParallelism(parallel)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				run()
			}
		})
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/probe")
}

// listeners opens n open ports on ip: a daemon probes many backends, and
// a port rests before it probes the same one again.
func listeners(b *testing.B, ip string, n int) []netip.AddrPort {
	addrs := make([]netip.AddrPort, n)
	for i := range addrs {
		addrs[i] = listen(b, netip.AddrPortFrom(netip.MustParseAddr(ip), 0).String(), false).addrPort()
	}
	return addrs
}

// One probe at a time through the Mux, to open ports: 16 targets in turn,
// or the same one every time.
func BenchmarkMuxOpen(b *testing.B) {
	m := testMux(b)
	for _, tc := range []struct {
		name    string
		ip      string
		targets int
	}{{"ipv4", "127.0.0.1", 16}, {"ipv6", "::1", 16}, {"ipv4-one-target", "127.0.0.1", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			benchProbes(b, 1, m.Probe, listeners(b, tc.ip, tc.targets))
		})
	}
}

// Many probes in flight at once (GOMAXPROCS x 32 goroutines), as a daemon
// serving many scrapes runs them.
func BenchmarkMuxOpenParallel(b *testing.B) {
	m := testMux(b)
	benchProbes(b, 32, m.Probe, listeners(b, "127.0.0.1", 16))
}

// For comparison: a Prober per probe, as each run of the binary makes one
// (without the process around it).
func BenchmarkProberOpen(b *testing.B) {
	benchProbes(b, 1, func(ctx context.Context, t probe.Target) probe.Result {
		p := &Prober{}
		defer p.Close()
		return p.Probe(ctx, t)
	}, listeners(b, "127.0.0.1", 16))
}
