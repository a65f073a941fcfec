package proxyproto

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestAppend(t *testing.T) {
	v4src, v4dst := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.5:80")
	v6src, v6dst := netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::5]:443")
	cases := []struct {
		name     string
		v        Version
		datagram bool
		src, dst netip.AddrPort
		want     string
		err      error
	}{
		{"none", None, false, v4src, v4dst, "", nil},
		{"v1 TCP4", V1, false, v4src, v4dst, "PROXY TCP4 10.0.0.1 10.0.0.5 40000 80\r\n", nil},
		{"v1 TCP6", V1, false, v6src, v6dst, "PROXY TCP6 2001:db8::1 2001:db8::5 40000 443\r\n", nil},
		{"v1 mapped is TCP4", V1, false, netip.MustParseAddrPort("[::ffff:10.0.0.1]:1"), netip.MustParseAddrPort("[::ffff:10.0.0.5]:2"), "PROXY TCP4 10.0.0.1 10.0.0.5 1 2\r\n", nil},
		{"v1 zone left out", V1, false, netip.MustParseAddrPort("[fe80::1%eth0]:1"), netip.MustParseAddrPort("[fe80::2%eth0]:2"), "PROXY TCP6 fe80::1 fe80::2 1 2\r\n", nil},
		{"v1 UDP refused", V1, true, v4src, v4dst, "", ErrV1Datagram},
		{"v1 mixed families", V1, false, v4src, v6dst, "", ErrAddress},
		{"v2 no address", V2, false, netip.AddrPort{}, v4dst, "", ErrAddress},
		{"v2 TCP4", V2, false, v4src, v4dst, Signature + "\x21\x11\x00\x0c\x0a\x00\x00\x01\x0a\x00\x00\x05\x9c\x40\x00\x50", nil},
		{"v2 UDP4", V2, true, v4src, v4dst, Signature + "\x21\x12\x00\x0c\x0a\x00\x00\x01\x0a\x00\x00\x05\x9c\x40\x00\x50", nil},
		{"v2 TCP6", V2, false, v6src, v6dst, Signature + "\x21\x21\x00\x24" +
			"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" +
			"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x9c\x40\x01\xbb", nil},
		{"v2 UDP6", V2, true, v6src, v6dst, Signature + "\x21\x22\x00\x24" +
			"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" +
			"\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x9c\x40\x01\xbb", nil},
		{"v2 LOCAL", V2Local, false, v4src, v4dst, Signature + "\x20\x00\x00\x00", nil},
		{"v2 LOCAL UDP", V2Local, true, v6src, v6dst, Signature + "\x20\x00\x00\x00", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Append([]byte("x"), c.v, c.datagram, c.src, c.dst)
			if !errors.Is(err, c.err) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			if string(got) != "x"+c.want {
				t.Fatalf("got %q\nwant %q", got, "x"+c.want)
			}
			if len(got)-1 > MaxLen {
				t.Errorf("%d bytes, more than MaxLen %d", len(got)-1, MaxLen)
			}
		})
	}
}

func TestLongestV1IsMaxLen(t *testing.T) {
	a := netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535")
	b, err := Append(nil, V1, false, a, a)
	if err != nil || len(b) != MaxLen {
		t.Fatalf("%d bytes (%v), want MaxLen %d", len(b), err, MaxLen)
	}
}

func TestSet(t *testing.T) {
	cases := []struct {
		name, in string
		want     Version
		ok       bool
	}{
		{"v1", "v1", V1, true},
		{"v2", "v2", V2, true},
		{"v2-local", "v2-local", V2Local, true},
		{"bare number", "1", None, false},
		{"upper case", "V1", None, false},
		{"empty", "", None, false},
		{"v3", "v3", None, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v Version
			err := v.Set(c.in)
			if (err == nil) != c.ok || v != c.want {
				t.Fatalf("Set(%q) = %v, %v; want %v, ok %v", c.in, v, err, c.want, c.ok)
			}
			if c.ok && v.String() != c.in {
				t.Errorf("String() = %q, want %q", v.String(), c.in)
			}
			if !c.ok && !strings.Contains(err.Error(), Values) {
				t.Errorf("error %q does not list the values", err)
			}
		})
	}
}

// FuzzAppend holds the writer to a reference reading of the specification:
// every header it writes parses, whole, to the endpoints it was given.
func FuzzAppend(f *testing.F) {
	f.Add(uint8(1), false, []byte{10, 0, 0, 1}, []byte{10, 0, 0, 5}, uint16(40000), uint16(80))
	f.Add(uint8(2), true, []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}, uint16(0), uint16(65535))
	f.Add(uint8(3), false, []byte{127, 0, 0, 1}, []byte{127, 0, 0, 1}, uint16(1), uint16(2))
	f.Add(uint8(1), false, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}, []byte{5, 6, 7, 8}, uint16(9), uint16(10))
	f.Fuzz(func(t *testing.T, v uint8, datagram bool, sa, da []byte, sp, dp uint16) {
		ver := Version(v % 4)
		s, _ := netip.AddrFromSlice(sa)
		d, _ := netip.AddrFromSlice(da)
		src, dst := netip.AddrPortFrom(s, sp), netip.AddrPortFrom(d, dp)
		b, err := Append(nil, ver, datagram, src, dst)
		if ver == None {
			if len(b) != 0 || err != nil {
				t.Fatalf("None wrote %q, %v", b, err)
			}
			return
		}
		if err != nil {
			if len(b) != 0 {
				t.Fatalf("wrote %q with error %v", b, err)
			}
			su, du := s.Unmap(), d.Unmap()
			if (ver == V1 && datagram) || !su.IsValid() || !du.IsValid() || su.Is4() != du.Is4() {
				return
			}
			t.Fatalf("refused %v %v: %v", src, dst, err)
		}
		if len(b) > MaxLen {
			t.Fatalf("%d bytes, more than MaxLen", len(b))
		}
		// What follows the header must stay the payload's.
		h, err := parseRef(append(b, "GET / HTTP/1.1\r\n"...))
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if h.length != len(b) {
			t.Fatalf("header of %d bytes read as %d", len(b), h.length)
		}
		switch ver {
		case V2Local:
			if h.version != 2 || !h.local || h.src.IsValid() {
				t.Fatalf("LOCAL read as %+v", h)
			}
			return
		case V1:
			if h.version != 1 {
				t.Fatalf("v1 read as %+v", h)
			}
		case V2:
			if h.version != 2 || h.local || h.datagram != datagram {
				t.Fatalf("v2 read as %+v", h)
			}
		}
		want := func(a netip.AddrPort) netip.AddrPort {
			return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		}
		if h.src != want(src) || h.dst != want(dst) {
			t.Fatalf("%v -> %v read as %v -> %v", src, dst, h.src, h.dst)
		}
	})
}
