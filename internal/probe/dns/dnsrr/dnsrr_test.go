package dnsrr

import (
	"testing"

	mdns "github.com/miekg/dns"
)

// TestRecords: the part unpacks the reply and answers for --dnssec, and
// says when miekg/dns cannot read it.
func TestRecords(t *testing.T) {
	q := new(mdns.Msg)
	q.SetQuestion("www.example.", mdns.TypeA)
	m := new(mdns.Msg)
	m.SetReply(q)
	rr, err := mdns.NewRR("www.example. 300 IN A 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	m.Answer = []mdns.RR{rr}
	raw, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var r Records
	if note, why, err := r.Signatures(raw); note != "" || why != "no RRSIG over www.example. A" || err != nil {
		t.Errorf("Signatures = %q, %q, %v", note, why, err)
	}
	if _, _, err := r.Signatures(raw[:len(raw)-2]); err == nil {
		t.Error("Signatures took a message cut short")
	}
	if _, _, err := r.Signatures([]byte{1}); err == nil {
		t.Error("Signatures took one byte")
	}
}
