// Package dnsrr is what check_dns_answer needs github.com/miekg/dns's
// records for: --dnssec (which RRsets a reply signs). It is a part lbcheck
// gives the probe (internal/checks); the probe reads replies itself and
// judges --expect on them, and the plain check_dns_answer, which links
// neither this nor miekg's crypto, hands a command line with --dnssec to
// lbcheck.
package dnsrr

import (
	"fmt"

	mdns "github.com/miekg/dns"
)

// Records is dns.Records on miekg/dns.
type Records struct{}

// Signatures judges --dnssec (signatures).
func (Records) Signatures(reply []byte) (note, why string, err error) {
	m := new(mdns.Msg)
	if err := m.Unpack(reply); err != nil {
		return "", "", fmt.Errorf("miekg/dns: %w", err)
	}
	note, why = signatures(m)
	return note, why, nil
}
