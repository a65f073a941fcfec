package halfopen

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errQueueMsg builds the control message recvmsg(MSG_ERRQUEUE) returns: a
// sock_extended_err followed by the reporter's sockaddr.
func errQueueMsg(v6 bool, origin, typ, code uint8, reporter netip.Addr) []byte {
	level, typ2 := int32(unix.SOL_IP), int32(unix.IP_RECVERR)
	if v6 {
		level, typ2 = unix.SOL_IPV6, unix.IPV6_RECVERR
	}
	data := make([]byte, sizeofExtendedErr)
	binary.NativeEndian.PutUint32(data, uint32(syscall.EHOSTUNREACH))
	data[4], data[5], data[6] = origin, typ, code
	if reporter.Is4() {
		sa := make([]byte, 16)
		binary.NativeEndian.PutUint16(sa, unix.AF_INET)
		copy(sa[4:], reporter.AsSlice())
		data = append(data, sa...)
	} else if reporter.IsValid() {
		sa := make([]byte, 28)
		binary.NativeEndian.PutUint16(sa, unix.AF_INET6)
		copy(sa[8:], reporter.AsSlice())
		data = append(data, sa...)
	}
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ2
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func TestParseErrQueue(t *testing.T) {
	syn, _ := segment{Src: me, Dst: peer, Seq: isn, SYN: true}.encode()
	router := netip.MustParseAddr("10.0.0.254")
	for _, tc := range []struct {
		name    string
		oob     []byte
		payload []byte
		want    string // in the error text; "" for no ICMP error
	}{
		{"admin prohibited", errQueueMsg(false, unix.SO_EE_ORIGIN_ICMP, 3, 13, router), syn,
			"communication administratively prohibited (ICMP type 3 code 13) from 10.0.0.254"},
		{"port unreachable, 8 bytes quoted", errQueueMsg(false, unix.SO_EE_ORIGIN_ICMP, 3, 3, router), syn[:8],
			"port unreachable (ICMP type 3 code 3)"},
		{"icmpv6 admin prohibited", errQueueMsg(true, unix.SO_EE_ORIGIN_ICMP6, 1, 1, netip.MustParseAddr("fd00::fe")), syn,
			"communication administratively prohibited (ICMPv6 type 1 code 1) from fd00::fe"},
		{"unknown code", errQueueMsg(false, unix.SO_EE_ORIGIN_ICMP, 3, 99, netip.Addr{}), syn,
			"destination unreachable (ICMP type 3 code 99)"},
		{"unknown type", errQueueMsg(false, unix.SO_EE_ORIGIN_ICMP, 42, 0, router), syn, "ICMP type 42 code 0 from"},
		{"local error", errQueueMsg(false, unix.SO_EE_ORIGIN_LOCAL, 0, 0, netip.Addr{}), syn, ""},
		{"payload too short", errQueueMsg(false, unix.SO_EE_ORIGIN_ICMP, 3, 3, router), syn[:7], ""},
		{"no control message", nil, syn, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, sport, dport, seq, err := parseErrQueue(tc.oob, tc.payload)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %v, want an error", e)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(e.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", e, tc.want)
			}
			if sport != me.Port() || dport != peer.Port() || seq != isn {
				t.Errorf("quoted packet %d -> %d seq %d, want %d -> %d seq %d", sport, dport, seq, me.Port(), peer.Port(), isn)
			}
		})
	}
	if _, _, _, _, err := parseErrQueue(nil, syn); !errors.Is(err, errNoICMP) {
		t.Errorf("no message: %v, want errNoICMP", err)
	}
}
