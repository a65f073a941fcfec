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
// The reply is matched on our 4-tuple and on ack == ISN+1, with the ISN
// drawn from getrandom(2): on loopback the raw socket also sees our own SYN
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
// address family for every probe in flight, a static filter that admits
// only SYN+ACK and RST+ACK, and a reader per socket that hands each reply
// to its probe by target, source port and ack == ISN+1 (an ICMP error by
// the SYN it quotes). It opens every privileged socket up front (OpenMux,
// and Prepare for each firewall mark), so the process can drop its
// capabilities and go on probing; Mux.Spec is check_tcp_half_open's Spec
// probing through it, with the binary's options and words.
package halfopen
