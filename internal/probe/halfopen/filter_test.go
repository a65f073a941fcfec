package halfopen

import (
	"testing"

	"golang.org/x/net/bpf"
)

// The filter must pass exactly what judge can call an answer (ports and
// ack), whatever the IPv4 header length; run it in x/net/bpf's VM.
func TestFilter(t *testing.T) {
	reply := segment{Src: peer, Dst: me, Seq: 3, Ack: isn + 1, SYN: true, ACK: true}
	for _, tc := range []struct {
		name string
		s    segment
		ihl  int
		pass bool
	}{
		{"syn+ack", reply, 5, true},
		{"syn+ack with ip options", reply, 15, true},
		{"rst+ack", segment{Src: peer, Dst: me, Ack: isn + 1, RST: true, ACK: true}, 5, true},
		{"wrong ack", segment{Src: peer, Dst: me, Ack: isn, SYN: true, ACK: true}, 5, false},
		{"our own syn", segment{Src: me, Dst: peer, Seq: isn, SYN: true}, 5, false},
		{"kernel's rst", segment{Src: me, Dst: peer, Seq: isn + 1, RST: true}, 6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v4 := range []bool{true, false} {
				var pkt []byte
				if v4 {
					pkt = ipv4Packet(t, tc.s, tc.ihl)
				} else {
					var err error
					if pkt, err = tc.s.encode(); err != nil {
						t.Fatal(err)
					}
				}
				vm, err := bpf.NewVM(filter(v4, me.Port(), peer.Port(), isn))
				if err != nil {
					t.Fatal(err)
				}
				n, err := vm.Run(pkt)
				if err != nil {
					t.Fatal(err)
				}
				if (n > 0) != tc.pass {
					t.Errorf("ipv4=%v: filter returned %d, want pass=%v", v4, n, tc.pass)
				}
				if tc.pass && n < 60+60 {
					t.Errorf("ipv4=%v: snap length %d cannot hold the headers", v4, n)
				}
			}
		})
	}
}
