package sockopt

import (
	"context"
	"net"
	"net/netip"
)

// DialUDP "connects" a UDP socket to addr with these options: the kernel
// then drops datagrams from any other source and reports ICMP errors
// (port unreachable) to our reads. Dialer's LocalAddr is a TCPAddr, which
// net refuses for UDP, so the UDP dialer is built here.
func (o Options) DialUDP(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	if o.Poll {
		return o.dialPoll(ctx, "udp", addr)
	}
	d := &net.Dialer{Control: o.Control}
	if o.Bind.IsValid() {
		d.LocalAddr = &net.UDPAddr{IP: o.Bind.AsSlice(), Zone: o.Bind.Zone()}
	}
	c, err := d.DialContext(ctx, "udp", addr.String())
	if err != nil {
		return nil, o.bindError(err)
	}
	return c, nil
}
