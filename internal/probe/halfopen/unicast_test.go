package halfopen

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

// A multicast target is refused by the single probe and by the Mux alike,
// before any socket: connect(2) would refuse it too.
func TestMulticastTarget(t *testing.T) {
	m := testMux(t)
	for _, tc := range []struct{ name, addr string }{
		{"IPv4 group", "239.1.2.3"},
		{"IPv4 all hosts", "224.0.0.1"},
		{"IPv6 all nodes, site", "ff05::1"},
		{"IPv4 group, mapped", "::ffff:239.1.2.3"},
	} {
		addr := netip.AddrPortFrom(netip.MustParseAddr(tc.addr), 80)
		tg := probe.Target{Host: tc.addr, Addr: addr, Log: probe.NewLog(0)}
		refusedByBoth(t, m, tc.name, tg, "is a multicast address")
	}
	for _, a := range []string{"127.0.0.1", "::1", "0.0.0.0", "192.0.2.255"} {
		if err := unicast(netip.MustParseAddr(a)); err != nil {
			t.Errorf("unicast(%s): %v", a, err)
		}
	}
}

// A --bind address no SYN can come from is could-not-check (UNKNOWN),
// before any packet, in the single probe and the Mux alike: a raw socket
// binds to it, the kernel sends nothing, and the verdict was a "filtered"
// CRITICAL.
func TestSourceNoSYNComesFrom(t *testing.T) {
	m := testMux(t)
	for _, tc := range []struct{ name, bind, target string }{
		{"IPv4 multicast", "224.0.0.1", "127.0.0.1"},
		{"IPv4 limited broadcast", "255.255.255.255", "127.0.0.1"},
		{"IPv4 unspecified", "0.0.0.0", "127.0.0.1"},
		{"IPv6 multicast", "ff05::1", "::1"},
		{"IPv6 unspecified", "::", "::1"},
	} {
		addr := netip.AddrPortFrom(netip.MustParseAddr(tc.target), 80)
		tg := probe.Target{Host: tc.target, Addr: addr, Log: probe.NewLog(0)}
		tg.Socket.Bind = netip.MustParseAddr(tc.bind)
		refusedByBoth(t, m, tc.name, tg, "not an address a SYN can come from")
	}
	for _, a := range []string{"127.0.0.1", "::1", "192.0.2.255"} {
		if err := source(netip.MustParseAddr(a)); err != nil {
			t.Errorf("source(%s): %v", a, err)
		}
	}
}

// refusedByBoth runs tg through the single probe and the Mux: each must be
// UNKNOWN, a setup fault saying says, before any packet.
func refusedByBoth(t *testing.T, m *Mux, name string, tg probe.Target, says string) {
	t.Helper()
	for _, p := range []struct {
		name  string
		probe func(context.Context, probe.Target) probe.Result
	}{{"Prober", (&Prober{}).Probe}, {"Mux", m.Probe}} {
		t.Run(name+"/"+p.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			r := p.probe(ctx, tg)
			if r.State != exitcode.Unknown || !errors.Is(r.Err, sockopt.ErrSetup) || !strings.Contains(r.Summary, says) {
				t.Errorf("%s: %s (%v)", exitcode.State(r.State), r.Summary, r.Err)
			}
		})
	}
}
