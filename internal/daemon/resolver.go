package daemon

import (
	"context"
	"net"
	"net/netip"
)

// defaultResolver is the system's; tests replace it.
var defaultResolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
} = net.DefaultResolver
