package halfopen

import (
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// filter is the classic BPF program that lets through only a segment from
// remotePort to localPort acknowledging isn+1: the rule judge applies,
// enforced in the kernel so that a busy host's other TCP traffic is never
// copied to us. The IPv4 program skips the IP header by its IHL; an
// AF_INET6 raw socket hands the filter the TCP header at offset 0.
func filter(ipv4 bool, localPort, remotePort uint16, isn uint32) []bpf.Instruction {
	load := func(off, size uint32) bpf.Instruction {
		if ipv4 {
			return bpf.LoadIndirect{Off: off, Size: int(size)}
		}
		return bpf.LoadAbsolute{Off: off, Size: int(size)}
	}
	prog := []bpf.Instruction{
		load(0, 2), // source port
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(remotePort), SkipTrue: 5},
		load(2, 2), // destination port
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(localPort), SkipTrue: 3},
		load(8, 4), // acknowledgment number
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: isn + 1, SkipTrue: 1},
		bpf.RetConstant{Val: 256}, // headers are all we read
		bpf.RetConstant{Val: 0},
	}
	if ipv4 {
		// X = 4 * (IHL): the TCP header's offset.
		prog = append([]bpf.Instruction{bpf.LoadMemShift{Off: 0}}, prog...)
	}
	return prog
}

// attachFilter assembles prog and attaches it to the socket fd, replacing
// any filter attached before.
func attachFilter(fd int, prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return err
	}
	ins := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
}

// sharedFilter is the classic BPF program of the Mux's receiving socket,
// which serves every probe in flight and so cannot name one's ISN: it
// lets through only a segment to a port of the Mux's range (ports, the
// reply's destination) with ACK and SYN or RST (what judge can call an
// answer), and drops the rest of the host's TCP traffic in the kernel:
// the SYN+ACKs of every real connection the host opens never wake the
// reader. Our own SYNs and RSTs and the kernel's RST (no ACK) never pass.
// An IPv4 fragment past the first is dropped: it holds no TCP header.
func sharedFilter(ipv4 bool, ports PortRange) []bpf.Instruction {
	const drop = 255 // placeholder, resolved below
	var prog []bpf.Instruction
	load := func(off, size uint32) bpf.Instruction {
		if ipv4 {
			return bpf.LoadIndirect{Off: off, Size: int(size)}
		}
		// An AF_INET6 raw socket hands the filter the TCP header.
		return bpf.LoadAbsolute{Off: off, Size: int(size)}
	}
	if ipv4 {
		prog = append(prog,
			bpf.LoadAbsolute{Off: 6, Size: 2}, // flags and fragment offset
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: drop},
			bpf.LoadMemShift{Off: 0}, // X = 4 * (IHL)
		)
	}
	prog = append(prog,
		load(2, 2), // destination port: ours?
		bpf.JumpIf{Cond: bpf.JumpLessThan, Val: uint32(ports.First), SkipTrue: drop},
		bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: uint32(ports.Last), SkipTrue: drop},
		load(13, 1), // TCP flags
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: flagACK, SkipFalse: drop},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: flagSYN | flagRST, SkipFalse: drop},
		bpf.RetConstant{Val: 256}, // headers are all we read
		bpf.RetConstant{Val: 0},
	)
	last := len(prog) - 1
	for i, ins := range prog {
		if j, ok := ins.(bpf.JumpIf); ok {
			if j.SkipTrue == drop {
				j.SkipTrue = uint8(last - i - 1)
			}
			if j.SkipFalse == drop {
				j.SkipFalse = uint8(last - i - 1)
			}
			prog[i] = j
		}
	}
	return prog
}

// dropAll is the filter of a socket we only send on: nothing is queued.
func dropAll() []bpf.Instruction { return []bpf.Instruction{bpf.RetConstant{Val: 0}} }
