// Command check_tcp_half_open checks that a TCP port accepts connections
// without ever opening one: SYN, SYN+ACK, RST. The application behind the
// port sees nothing, so it logs nothing.
package main

import (
	"context"
	"io"
	"os"

	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

// dropCaps drops every capability once the raw socket is open. Tests that
// call run in their own process turn it off: they open raw sockets again.
var dropCaps = true

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	p := &halfopen.Prober{DropCaps: dropCaps}
	defer p.Close()
	return plugin.Run(ctx, plugin.Spec{
		Name:     "TCP_HALF_OPEN",
		Command:  "check_tcp_half_open",
		Purpose:  "a TCP port answers a SYN with SYN+ACK; no connection is ever made",
		PortHelp: "PORT is required. Needs CAP_NET_RAW (root, or setcap cap_net_raw+ep on the binary).",
		Probe:    p.Probe,
		Examples: []plugin.Example{
			{Command: "check_tcp_half_open 10.0.0.5 25", What: "SYN+ACK is OK; RST, ICMP reject or silence is CRITICAL"},
			{Command: "check_tcp_half_open -t 1 --attempts 2 10.0.0.5 3306", What: "two tries within one second"},
			{Command: "MARK=0x200 check_tcp_half_open HOST PORT", What: "Farmguardian on an l4xnat farm: SO_MARK from the environment"},
			{Command: "check_tcp_half_open --exit-style binary -t 2 10.0.0.5 443", What: "keepalived MISC_CHECK with misc_dynamic: exit 0 up, 1 down"},
			{Command: "setcap cap_net_raw+ep /usr/lib/nagios/plugins/check_tcp_half_open", What: "let non-root users (nagios, keepalived_script) run it"},
		},
	}, args, stdout, stderr)
}
