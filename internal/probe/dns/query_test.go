package dns

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// miekgQuery is the query as the probe packed it with miekg/dns: the same
// name checks and message.
func miekgQuery(name string, qtype uint16, norecurse, dnssec bool, id uint16) ([]byte, string, error) {
	if _, ok := mdns.IsDomainName(name); !ok || name == "" {
		return nil, name, fmt.Errorf("--name %q: not a domain name", name)
	}
	name = mdns.Fqdn(name)
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = id
	m.RecursionDesired = !norecurse
	if dnssec {
		m.SetEdns0(1232, true)
	}
	raw, err := m.Pack()
	if err != nil {
		return nil, name, fmt.Errorf("--name %q: %v", name, err)
	}
	return raw, name, nil
}

// ourQuery is the query as the probe packs it now.
func ourQuery(name string, qtype uint16, norecurse, dnssec bool, id uint16) ([]byte, string, error) {
	o := &Options{Name: name, Type: fmt.Sprintf("TYPE%d", qtype), Rcodes: "NOERROR", NoRecurse: norecurse, DNSSEC: dnssec, parts: full}
	if err := o.Validate(); err != nil {
		return nil, o.Name, err
	}
	return o.query(id), o.Name, nil
}

// TestQueryAsMiekg: the query is the one miekg/dns packed, bit for bit.
func TestQueryAsMiekg(t *testing.T) {
	names := []string{".", "www.lab.test", "www.lab.test.", "WwW.Lab.Test", `a\.b.c`, `a\065b`, `\000\255.x`,
		`a\ b`, `a\\b.`, `a\`, `a\\`, `a\.`, "a..b", ".a", strings.Repeat("a", 63) + ".x", strings.Repeat("a", 64) + ".x",
		strings.Repeat(strings.Repeat("b", 62)+".", 4), strings.Repeat(strings.Repeat("b", 63)+".", 4), ""}
	for _, name := range names {
		for _, qtype := range []uint16{1, 28, 255, 65535, 46} {
			for _, flags := range []int{0, 1, 2, 3} {
				t.Run(fmt.Sprintf("%s/%d/%d", name, qtype, flags), func(t *testing.T) {
					id := uint16(0xbeef + flags)
					want, wantName, wantErr := miekgQuery(name, qtype, flags&1 != 0, flags&2 != 0, id)
					got, gotName, gotErr := ourQuery(name, qtype, flags&1 != 0, flags&2 != 0, id)
					if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || gotName != wantName || !bytes.Equal(got, want) {
						t.Errorf("ours %q %x %v\nmiekg %q %x %v", gotName, got, gotErr, wantName, want, wantErr)
					}
				})
			}
		}
	}
}

// FuzzNameAsMiekg: any --name is taken or refused as miekg/dns took it,
// completed the same, and packed the same.
func FuzzNameAsMiekg(f *testing.F) {
	for _, s := range []string{".", "www.lab.test", `a\.b`, `a\065`, `a\`, `\\.`, "..", "a.b.", `a\\\.`, "é.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want, wantName, wantErr := miekgQuery(name, 1, false, false, 1)
		got, gotName, gotErr := ourQuery(name, 1, false, false, 1)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || gotName != wantName || !bytes.Equal(got, want) {
			t.Errorf("%q: ours %q %x %v\nmiekg %q %x %v", name, gotName, got, gotErr, wantName, want, wantErr)
		}
	})
}

// TestIDs: IDs are drawn anew for each query.
func TestIDs(t *testing.T) {
	seen := map[uint16]bool{}
	for range 64 {
		seen[newID()] = true
	}
	if len(seen) < 32 {
		t.Errorf("64 IDs drawn, %d different", len(seen))
	}
}
