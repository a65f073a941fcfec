// Package dnsrr is what check_dns_answer needs github.com/miekg/dns's
// records for: --expect (an answer's data as miekg presents it) and
// --dnssec (which RRsets a reply signs). It is a part lbcheck gives the
// probe (internal/checks); the probe reads replies itself, and the plain
// check_dns_answer, which links neither this nor miekg's crypto, hands a
// command line that needs it to lbcheck.
package dnsrr

import (
	"fmt"

	mdns "github.com/miekg/dns"
)

// Records is dns.Records on miekg/dns.
type Records struct{}

func unpack(reply []byte) (*mdns.Msg, error) {
	m := new(mdns.Msg)
	if err := m.Unpack(reply); err != nil {
		return nil, fmt.Errorf("miekg/dns: %w", err)
	}
	return m, nil
}

// Find returns the first answer record whose data is want (findExpected).
func (Records) Find(reply []byte, want string) (string, bool, error) {
	m, err := unpack(reply)
	if err != nil {
		return "", false, err
	}
	if rr := findExpected(m.Answer, want); rr != nil {
		return rr.String(), true, nil
	}
	return "", false, nil
}

// Signatures judges --dnssec (signatures).
func (Records) Signatures(reply []byte) (note, why string, err error) {
	m, err := unpack(reply)
	if err != nil {
		return "", "", err
	}
	note, why = signatures(m)
	return note, why, nil
}
