package halfopen

import (
	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe/proxyproto"
)

// Spec is check_tcp_half_open: what it is called, what it proves, and its
// options (the common ones only). Each command line gets a Prober of its
// own that drops every capability once its raw socket is open.
var Spec = check.Spec{
	Name:     "TCP_HALF_OPEN",
	Command:  "check_tcp_half_open",
	Purpose:  "a TCP port answers a SYN with SYN+ACK; no connection is ever made",
	PortHelp: "PORT is required. Needs CAP_NET_RAW (root, or setcap cap_net_raw+ep on the binary).",
	New:      func() check.Options { return &Options{Prober: &Prober{DropCaps: true}} },
	Examples: []check.Example{
		{Command: "check_tcp_half_open 10.0.0.5 25", What: "SYN+ACK is OK; RST, ICMP reject or silence is CRITICAL"},
		{Command: "check_tcp_half_open -t 1 --attempts 2 10.0.0.5 3306", What: "two tries within one second"},
		{Command: "MARK=0x200 check_tcp_half_open HOST PORT", What: "Farmguardian on an l4xnat farm: SO_MARK from the environment"},
		{Command: "check_tcp_half_open --exit-style binary -t 2 10.0.0.5 443", What: "keepalived MISC_CHECK with misc_dynamic: exit 0 up, 1 down"},
		{Command: "setcap cap_net_raw+ep /usr/lib/nagios/plugins/check_tcp_half_open", What: "let non-root users (nagios, keepalived_script) run it"},
	},
}

// Options are check_tcp_half_open's: none of its own, and the Prober whose
// raw socket serves every attempt.
type Options struct {
	*Prober
}

// Flags registers nothing but a refusal: the half-open check has only the
// common options.
func (o *Options) Flags(fs *flags.FlagSet) { refuseProxy(fs) }

// refuseProxy says why --proxy-protocol has no meaning here.
func refuseProxy(fs *flags.FlagSet) {
	proxyproto.Refuse(fs, "check_tcp_half_open opens no connection to begin with a header (SYN, SYN+ACK, RST); check the service behind the port with check_ssl_hello or check_http_status --proxy-protocol")
}

// Validate has nothing to check.
func (o *Options) Validate() error { return nil }

// DefaultPort is 0: PORT is required, there is no port a SYN means by default.
func (o *Options) DefaultPort() uint16 { return 0 }
