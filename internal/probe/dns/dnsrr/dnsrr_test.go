package dnsrr

import (
	"testing"

	mdns "github.com/miekg/dns"
)

func mustRR(t testing.TB, s string) mdns.RR {
	rr, err := mdns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestFindExpected(t *testing.T) {
	tests := []struct {
		name string
		rr   string
		want string
		ok   bool
	}{
		{"a", "x. 1 IN A 192.0.2.1", "192.0.2.1", true},
		{"a other", "x. 1 IN A 192.0.2.1", "192.0.2.10", false},
		{"a is not its name", "x. 1 IN A 192.0.2.1", "x.", false},
		{"aaaa any spelling", "x. 1 IN AAAA 2001:db8::1", "2001:DB8:0:0:0:0:0:1", true},
		{"aaaa mapped is not a", "x. 1 IN A 192.0.2.1", "::ffff:192.0.2.2", false},
		{"cname no dot", "x. 1 IN CNAME Target.Example.", "target.example", true},
		{"cname prefix is not it", "x. 1 IN CNAME target.example.", "target", false},
		{"txt one string", `x. 1 IN TXT "a b" "c"`, "a b", true},
		{"txt joined", `x. 1 IN TXT "a b" "c"`, "a bc", true},
		{"txt presentation", `x. 1 IN TXT "a b" "c"`, `"a b" "c"`, true},
		{"txt case matters", `x. 1 IN TXT "Key=V"`, "key=v", false},
		{"mx", "x. 1 IN MX 10 mx.example.", "10 mx.example", true},
		{"mx wrong preference", "x. 1 IN MX 10 mx.example.", "20 mx.example", false},
		{"mx name alone", "x. 1 IN MX 10 mx.example.", "mx.example", false},
		{"soa", "x. 1 IN SOA ns.x. h.x. 7 3600 600 86400 300", "ns.x h.x 7 3600 600 86400 300", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := findExpected([]mdns.RR{mustRR(t, tt.rr)}, tt.want) != nil
			if got != tt.ok {
				t.Errorf("%q in %q: %v, want %v", tt.want, tt.rr, got, tt.ok)
			}
		})
	}
}

// TestRecords: the part unpacks the reply and answers for --expect and
// --dnssec, and says when miekg/dns cannot read it.
func TestRecords(t *testing.T) {
	q := new(mdns.Msg)
	q.SetQuestion("www.example.", mdns.TypeA)
	m := new(mdns.Msg)
	m.SetReply(q)
	m.Answer = []mdns.RR{mustRR(t, "www.example. 300 IN A 192.0.2.1")}
	raw, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var r Records
	if rr, ok, err := r.Find(raw, "192.0.2.1"); !ok || err != nil || rr != "www.example.\t300\tIN\tA\t192.0.2.1" {
		t.Errorf("Find = %q, %v, %v", rr, ok, err)
	}
	if rr, ok, err := r.Find(raw, "192.0.2.2"); ok || err != nil || rr != "" {
		t.Errorf("Find other = %q, %v, %v", rr, ok, err)
	}
	if note, why, err := r.Signatures(raw); note != "" || why != "no RRSIG over www.example. A" || err != nil {
		t.Errorf("Signatures = %q, %q, %v", note, why, err)
	}
	if _, _, err := r.Find(raw[:len(raw)-2], "192.0.2.1"); err == nil {
		t.Error("Find took a message cut short")
	}
	if _, _, err := r.Signatures([]byte{1}); err == nil {
		t.Error("Signatures took one byte")
	}
}
