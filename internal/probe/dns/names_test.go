package dns

import (
	"strconv"
	"testing"

	mdns "github.com/miekg/dns"
)

// TestNamesAsMiekg: every mnemonic is miekg/dns's, both ways, so that a
// type, class or rcode reads the same in every build, and a --type or
// --rcode that lbcheck takes the check binary takes too.
func TestNamesAsMiekg(t *testing.T) {
	for n := range 1 << 16 {
		v := uint16(n)
		if got, want := typeString(v), mdns.Type(v).String(); got != want {
			t.Errorf("type %d: %q, miekg %q", n, got, want)
		}
		if got, want := classString(v), mdns.Class(v).String(); got != want {
			t.Errorf("class %d: %q, miekg %q", n, got, want)
		}
		if v != 65535 {
			if got, want := svcbKeyString(v), mdns.SVCBKey(v).String(); got != want {
				t.Errorf("SVCB key %d: %q, miekg %q", n, got, want)
			}
		}
	}
	for name, v := range mdns.StringToType {
		if got, ok := typeByName(name); !ok || got != v {
			t.Errorf("type %q: %d, %v; miekg %d", name, got, ok, v)
		}
	}
	for _, e := range typeNames {
		if v, ok := mdns.StringToType[e.name]; !ok || v != e.n {
			t.Errorf("type %q is not miekg's", e.name)
		}
	}
	for rc := range 4096 {
		want, ok := mdns.RcodeToString[rc]
		if !ok {
			want = "RCODE" + strconv.Itoa(rc)
		}
		if got := rcodeName(rc); got != want {
			t.Errorf("rcode %d: %q, miekg %q", rc, got, want)
		}
	}
	for name, v := range mdns.StringToRcode {
		if got, ok := rcodeByName(name); !ok || got != v {
			t.Errorf("rcode %q: %d, %v; miekg %d", name, got, ok, v)
		}
	}
	for _, e := range rcodeNames {
		if v, ok := mdns.StringToRcode[e.name]; !ok || v != int(e.n) {
			t.Errorf("rcode %q is not miekg's", e.name)
		}
	}
	for _, table := range []struct {
		what  string
		ours  []named
		miekg map[uint8]string
	}{{"algorithm", algorithmNames[:], mdns.AlgorithmToString}, {"hash", hashNames[:], mdns.HashToString}} {
		for n := range 256 {
			want, ok := table.miekg[uint8(n)]
			if !ok {
				want = strconv.Itoa(n)
			}
			if got := mnemonic(table.ours, uint64(n)); got != want {
				t.Errorf("%s %d: %q, miekg %q", table.what, n, got, want)
			}
		}
	}
	for n := range 1 << 16 {
		want, ok := mdns.CertTypeToString[uint16(n)]
		if !ok {
			want = strconv.Itoa(n)
		}
		if got := mnemonic(certTypeNames[:], uint64(n)); got != want {
			t.Errorf("certificate type %d: %q, miekg %q", n, got, want)
		}
		if want, ok := mdns.ExtendedErrorCodeToString[uint16(n)]; ok != (n < len(edeNames)) || ok && edeNames[n] != want {
			t.Errorf("extended error %d: miekg %q", n, want)
		}
	}
}
