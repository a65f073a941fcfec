package halfopen

import (
	"net/netip"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/probe"
)

// The summary's time is the round trip from the SYN, not the run's time
// that the perfdata carries beside it: it must say which it is.
func TestAnsweredSaysWhatTheTimeIs(t *testing.T) {
	v6 := netip.MustParseAddrPort("[fd00::2]:443")
	for _, tc := range []struct {
		name string
		what string
		addr netip.AddrPort
		rtt  time.Duration
		syns int
		want string
	}{
		{"open, first SYN", "port open (SYN+ACK)", peer, 20 * time.Microsecond, 1,
			"port open (SYN+ACK) on 10.0.0.2:80, 0.02 ms after the SYN"},
		{"closed", "port closed (RST)", peer, 1500 * time.Microsecond, 1,
			"port closed (RST) on 10.0.0.2:80, 1.50 ms after the SYN"},
		{"open after a retransmit", "port open (SYN+ACK)", v6, 260 * time.Millisecond, 2,
			"port open (SYN+ACK) on [fd00::2]:443, 260.0 ms after the first of 2 SYNs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := answered(tc.what, tc.addr, tc.rtt, tc.syns); got != tc.want {
				t.Errorf("answered = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestVerdictAllocations: a swept verdict, thousands a second, costs its
// phases and its summary, one allocation each, and keeps the setup first.
func TestVerdictAllocations(t *testing.T) {
	v6 := netip.MustParseAddrPort("[fe80::2%eth0]:443")
	setup := probe.Phase{Name: "setup", Duration: time.Millisecond}
	var r probe.Result
	if a := testing.AllocsPerRun(100, func() { r = verdict(open, v6, 2*time.Millisecond, 3, setup) }); a > 2 {
		t.Errorf("%v allocations a verdict, want 2", a)
	}
	if r.Summary != "port open (SYN+ACK) on [fe80::2%eth0]:443, 2.00 ms after the first of 3 SYNs" {
		t.Errorf("summary %q", r.Summary)
	}
	if len(r.Phases) != 2 || r.Phases[0] != setup || r.Phases[1] != (probe.Phase{Name: "syn-ack", Duration: 2 * time.Millisecond}) {
		t.Errorf("phases %+v", r.Phases)
	}
	if r = verdict(closed, v6, time.Millisecond, 1); len(r.Phases) != 1 || r.Phases[0].Name != "rst" || r.Err != ErrClosed {
		t.Errorf("closed: %+v", r)
	}
}
