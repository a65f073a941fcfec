package halfopen

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/probe"
)

// An ICMP error that arrives while the probe waits (a router's, which
// comes a round trip after the SYN) is the verdict, for the Prober and
// the Mux alike: the socket then reports only an error queue entry, no
// data, and the wait must still wake.
func TestICMPWhileWaiting(t *testing.T) {
	rules(t)
	m := testMux(t)
	for _, tc := range []struct {
		name string
		v6   bool
		mux  bool
		want string
	}{
		{"prober ipv4", false, false, "host unreachable (ICMP type 3 code 1) from 127.0.0.1"},
		{"prober ipv6", true, false, "address unreachable (ICMPv6 type 1 code 3) from ::1"},
		{"mux ipv4", false, true, "host unreachable (ICMP type 3 code 1) from 127.0.0.1"},
		{"mux ipv6", true, true, "address unreachable (ICMPv6 type 1 code 3) from ::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo := "127.0.0.1"
			if tc.v6 {
				lo = "::1"
			}
			addr := netip.AddrPortFrom(netip.MustParseAddr(lo), portDrop)
			sn := sniff(t)
			got := make(chan probe.Result, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				tg := probe.Target{Addr: addr, Log: probe.NewLog(2)}
				if tc.mux {
					got <- m.Probe(ctx, tg)
					return
				}
				p := &Prober{}
				defer p.Close()
				got <- p.Probe(ctx, tg)
			}()
			sport, seq := sn.syn(t, tc.v6, portDrop, 2*time.Second)
			time.Sleep(20 * time.Millisecond) // the probe is waiting by now
			injectUnreachable(t, tc.v6, sport, portDrop, seq)
			r := <-got
			if !errors.Is(r.Err, ErrUnreachable) || !strings.Contains(r.Summary, tc.want) {
				t.Errorf("%v %q (%v), want the ICMP error %q", r.State, r.Summary, r.Err, tc.want)
			}
		})
	}
}
