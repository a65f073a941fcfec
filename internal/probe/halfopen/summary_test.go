package halfopen

import (
	"net/netip"
	"testing"
	"time"
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
