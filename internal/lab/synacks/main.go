// Command synacks sends TCP SYN+ACK segments that answer no SYN of the
// receiver, at a steady rate: make bench's foreign traffic for lbcheckd's
// half-open raw sockets (issue 22, item 4), as a load balancer's own
// backend connections bring them to the host. Destination ports count up
// through 1024-65535, so every port, the daemon's own range too, gets its
// share. hping3 paces with usleep and fell to half its asked rate on a
// loaded machine; this paces by the clock (what is due by now, every
// millisecond). It runs until -d or SIGTERM and prints the segments sent.
//
//	synacks -from 10.99.0.2 -to 10.99.0.1 -rate 10000
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	from := flag.String("from", "10.99.0.2", "source IPv4 `ADDRESS` (a backend's)")
	to := flag.String("to", "10.99.0.1", "destination IPv4 `ADDRESS` (the daemon's host)")
	sport := flag.Uint("sport", 80, "source port (the backend's service)")
	rate := flag.Float64("rate", 10000, "segments a second")
	d := flag.Duration("d", 0, "how long (0: until SIGTERM)")
	flag.Parse()
	src, err1 := netip.ParseAddr(*from)
	dst, err2 := netip.ParseAddr(*to)
	if err1 != nil || err2 != nil || !src.Is4() || !dst.Is4() || *rate <= 0 || *sport == 0 || *sport > 65535 {
		fmt.Fprintln(os.Stderr, "usage: synacks -from IPv4 -to IPv4 [-sport PORT] [-rate N] [-d DUR]")
		os.Exit(2)
	}
	// IPPROTO_RAW: the IP header is ours; the kernel fills its checksum
	// and, left 0, its ID. Needs CAP_NET_RAW.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		fmt.Fprintln(os.Stderr, "synacks: raw socket:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *d)
		defer cancel()
	}
	sa := &unix.SockaddrInet4{Addr: dst.As4()}
	pkt := make([]byte, 40)
	var sent, failed int64
	dport := uint16(1024)
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		due := int64(time.Since(start).Seconds() * *rate)
		for ; sent < due; sent++ {
			synAck(pkt, src, dst, uint16(*sport), dport, rand.Uint32(), rand.Uint32())
			if err := unix.Sendto(fd, pkt, 0, sa); err != nil {
				failed++
			}
			if dport++; dport == 0 {
				dport = 1024
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	fmt.Printf("%d %d %.3f\n", sent, failed, time.Since(start).Seconds())
}

// synAck writes an IPv4 header and a TCP SYN+ACK segment (no options)
// into pkt, 40 bytes.
func synAck(pkt []byte, src, dst netip.Addr, sport, dport uint16, seq, ack uint32) {
	s, d := src.As4(), dst.As4()
	ip := pkt[:20]
	ip[0] = 0x45 // version 4, 5 words
	ip[1] = 0
	binary.BigEndian.PutUint16(ip[2:], 40)
	binary.BigEndian.PutUint32(ip[4:], 0x4000) // ID 0 (the kernel's), don't fragment
	ip[8] = 64
	ip[9] = unix.IPPROTO_TCP
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	tcp := pkt[20:40]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4
	tcp[13] = 0x12 // SYN, ACK
	binary.BigEndian.PutUint16(tcp[14:], 64240)
	tcp[16], tcp[17], tcp[18], tcp[19] = 0, 0, 0, 0
	binary.BigEndian.PutUint16(tcp[16:], tcpChecksum(s, d, tcp))
}

// tcpChecksum is the Internet checksum of the IPv4 pseudo-header and seg.
func tcpChecksum(src, dst [4]byte, seg []byte) uint16 {
	sum := uint32(unix.IPPROTO_TCP) + uint32(len(seg))
	for _, b := range [][]byte{src[:], dst[:], seg} {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
