// Command capture asks the DNS servers of the integration set-up
// (test/integration/netns.sh up) the questions check_dns_answer asks, and
// prints their replies for testdata/replies.txt, one a line:
// "label|options|hex". Run it in the client namespace:
//
//	ip netns exec lbc-cli go run ./internal/probe/dns/testdata/capture
package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

type server struct{ label, addr, zone string }

func main() {
	servers := []server{
		{"unbound", "10.99.0.2:53", "lab.test"},
		{"bind-nsec", "10.99.0.2:5301", "nsec.bind.test"},
		{"bind-nsec3", "10.99.0.2:5301", "nsec3.bind.test"},
		{"bind-unsigned", "10.99.0.2:5301", "unsigned.bind.test"},
		{"knot-nsec", "10.99.0.2:5302", "nsec.knot.test"},
		{"knot-nsec3", "10.99.0.2:5302", "nsec3.knot.test"},
	}
	fmt.Println("# Replies of unbound, BIND 9.18 and Knot DNS in test/integration/netns.sh, captured")
	fmt.Println("# with testdata/capture: label|check_dns_answer options|reply in hex.")
	for _, s := range servers {
		names := []struct{ name, qtype string }{
			{"www", "A"}, {"www", "AAAA"}, {"www", "ANY"}, {"www", "MX"}, {"", "SOA"}, {"", "NS"},
			{"txt", "TXT"}, {"txt", "A"}, {"missing", "A"}, {"alias", "A"}, {"mx", "MX"}, {"nodata", "A"},
			{"", "DNSKEY"}, {"", "CDS"}, {"", "CDNSKEY"}, {"", "NSEC3PARAM"}, {"", "TYPE46"},
			{"secure", "A"}, {"insecure", "A"}, {"secure", "DS"}, {"ns", "A"},
		}
		for _, n := range names {
			name := s.zone
			if n.name != "" {
				name = n.name + "." + s.zone
			}
			for _, v := range []struct {
				tcp, norecurse, dnssec bool
			}{{false, false, false}, {true, true, false}, {false, true, true}, {true, false, true}} {
				args := []string{"--name", name + ".", "--type", n.qtype}
				if v.tcp {
					args = append(args, "--tcp")
				}
				if v.norecurse {
					args = append(args, "--norecurse")
				}
				if v.dnssec {
					args = append(args, "--dnssec")
				}
				raw, err := ask(s.addr, name+".", n.qtype, v.tcp, v.norecurse, v.dnssec)
				if err != nil {
					fmt.Fprintf(os.Stderr, "%s %v: %v\n", s.label, args, err)
					continue
				}
				fmt.Printf("%s %s %s|%s|%s\n", s.label, name, n.qtype, strings.Join(args, " "), hex.EncodeToString(raw))
			}
		}
	}
}

// ask sends the question as check_dns_answer does and returns the reply.
func ask(addr, name, qtype string, tcp, norecurse, dnssec bool) ([]byte, error) {
	t, ok := mdns.StringToType[qtype]
	if !ok {
		fmt.Sscanf(qtype, "TYPE%d", &t)
	}
	m := new(mdns.Msg)
	m.SetQuestion(name, t)
	m.RecursionDesired = !norecurse
	if dnssec {
		m.SetEdns0(1232, true)
	}
	q, err := m.Pack()
	if err != nil {
		return nil, err
	}
	network := "udp"
	if tcp {
		network = "tcp"
	}
	c, err := net.DialTimeout(network, addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if tcp {
		q = append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)
	}
	if _, err := c.Write(q); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	if !tcp {
		n, err := c.Read(buf)
		return buf[:n], err
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint16(buf)
	_, err = io.ReadFull(c, buf[:n])
	return buf[:n], err
}
