// Package halfopen is the probe of check_tcp_half_open: a TCP SYN sent
// from a raw socket, judged by what comes back, and never a connection.
//
// SYN+ACK means the port is open: the probe answers it with its own RST,
// so the server's kernel drops the half-made connection and the
// application's accept() never returns it (no "connect from" / "lost
// connection" log lines, unlike a connect check). RST means closed. An
// ICMP error on the socket's error queue means a router or firewall
// rejected the SYN. Silence until the deadline, with the SYN sent again on
// a doubling schedule, means filtered.
//
// The reply is matched on our 4-tuple and on ack == ISN+1, with the
// Prober's ISN drawn from getrandom(2): on loopback the raw socket also sees our own SYN
// and the kernel's RST, and on a busy host other probes' traffic, and none
// of it may be taken for an answer. A classic BPF filter applies the same
// rule in the kernel so that unrelated TCP traffic never wakes us up.
//
// The source port is reserved by an ordinary TCP socket bound to it (never
// listening) for the probe's life: without it the kernel could hand the
// port to a real connection to the same server, which then answers our
// SYN with a challenge ACK.
//
// Raw sockets need CAP_NET_RAW. Once they are open, Prober.DropCaps drops
// every capability of every thread, so the rest of the run (parsing what
// the peer sent, printing) holds no privilege.
//
// A Prober serves one process and one probe at a time: its raw socket is
// connected to the target and filtered for one 4-tuple. A long-running
// process (lbcheckd) uses a Mux instead: one receiving raw socket per
// address family for every probe in flight, and a reader per socket. It
// opens every privileged socket up front (OpenMux, and Prepare for each
// firewall mark), so the process can drop its capabilities and go on
// probing; Mux.Spec is check_tcp_half_open's Spec probing through it, with
// the binary's options and words.
//
// The Mux's source ports come from one range (PortRange, by default
// 61000-61255 or the next free block of 256), reserved at OpenMux by a
// bound, never-listening TCP socket per port and family on the wildcard
// address: one reservation serves every source address and every target,
// and the kernel never hands those ports to a real connection. Its
// receiving sockets' BPF filter passes only SYN+ACK or RST+ACK to a port of
// the range, so the host's own connections never wake the reader. The ISN
// is SipHash-2-4 of the 4-tuple under a secret that rotates every 10
// minutes (isn.go): the reader validates a reply by recomputing it, under
// the current or the previous secret, before any lookup; what fails counts
// as Unmatched, what validates but finds no probe waiting as Late. A port
// probes the same target again only after sameTargetAfter (75 s).
//
// Two ways in. Mux.Probe is one probe (a module without `every`, an ask):
// its port is the range's next, round-robin, skipping one in flight to
// the target or that probed it within 75 s, its own timer, its own
// sendmsg. Sweep is for watched targets (SweepTarget, registered once):
// the SYNs of a tick are built in place in preallocated buffers and sent
// with sendmmsg(2), one batch per family and mark; each target rotates
// through the range from a random start; one goroutine and a min-heap
// keyed by next action retransmit the SYNs (250 ms doubling to 2 s, as the
// Prober) and end probes at their deadline, with no timer per probe; the
// reader finds a reply's target by a map built at Register and sends the
// RSTs of a read batch in one sendmmsg. Per packet, neither path
// allocates; a probe's verdict is worded as Mux.Probe words it. A SYN that
// cannot be sent (a full queue after a few retries, EPERM from a local
// firewall) makes its probe UNKNOWN with ErrSendFailed, never down.
package halfopen
