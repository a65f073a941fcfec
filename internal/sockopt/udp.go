package sockopt

import (
	"context"
	"net"
	"net/netip"
)

// DialUDP "connects" a UDP socket to addr with these options: the kernel
// then drops datagrams from any other source and reports ICMP errors
// (port unreachable) to our reads.
func (o Options) DialUDP(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	return o.dialPoll(ctx, "udp", addr)
}
