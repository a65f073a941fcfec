package proxyproto

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// recorder is a net.Conn that keeps each Write apart: what the tests need
// to see is how many writes the header took, which a real socket hides.
type recorder struct {
	net.Conn // nil: the methods not defined here are not used
	local    net.Addr
	writes   []string
	reads    int
}

func (r *recorder) Write(b []byte) (int, error) {
	r.writes = append(r.writes, string(b))
	return len(b), nil
}
func (r *recorder) Read([]byte) (int, error) { r.reads++; return 0, io.EOF }
func (r *recorder) LocalAddr() net.Addr      { return r.local }
func (r *recorder) RemoteAddr() net.Addr {
	if _, udp := r.local.(*net.UDPAddr); udp {
		return net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.5:53"))
	}
	return net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.5:80"))
}

func TestWrap(t *testing.T) {
	tcp := net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:40000"))
	udp := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:40000"))
	const v1 = "PROXY TCP4 192.0.2.1 192.0.2.5 40000 80\r\n"
	udp2 := Signature + "\x21\x12\x00\x0c\xc0\x00\x02\x01\xc0\x00\x02\x05\x9c\x40\x00\x35"
	cases := []struct {
		name  string
		v     Version
		local net.Addr
		do    func(c net.Conn)
		want  []string
	}{
		{"none writes as is", None, tcp, func(c net.Conn) { c.Write([]byte("GET")) }, []string{"GET"}},
		{"client speaks first: one write", V1, tcp, func(c net.Conn) { c.Write([]byte("GET")); c.Write([]byte("more")) },
			[]string{v1 + "GET", "more"}},
		{"server speaks first: header before the read", V1, tcp, func(c net.Conn) {
			c.Read(make([]byte, 10))
			c.Write([]byte("NOOP"))
		}, []string{v1, "NOOP"}},
		{"UDP: every datagram", V2, udp, func(c net.Conn) { c.Write([]byte("q1")); c.Write([]byte("q2")) },
			[]string{udp2 + "q1", udp2 + "q2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &recorder{local: c.local}
			conn, err := Wrap(r, c.v)
			if err != nil {
				t.Fatal(err)
			}
			c.do(conn)
			if strings.Join(r.writes, "|") != strings.Join(c.want, "|") {
				t.Fatalf("writes %q\nwant   %q", r.writes, c.want)
			}
		})
	}
}

func TestWrapCountsPayloadOnly(t *testing.T) {
	r := &recorder{local: net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:1"))}
	conn, _ := Wrap(r, V2)
	if n, err := conn.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v; want 5, nil", n, err)
	}
	u := &recorder{local: net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:1"))}
	uc, _ := Wrap(u, V2)
	if n, err := uc.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("UDP Write = %d, %v; want 5, nil", n, err)
	}
}

func TestWrapV1UDPRefused(t *testing.T) {
	r := &recorder{local: net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:1"))}
	if _, err := Wrap(r, V1); err != ErrV1Datagram {
		t.Fatalf("err %v, want ErrV1Datagram", err)
	}
}
