module github.com/lbcheck/lbcheck

go 1.26.0

require (
	github.com/gopacket/gopacket v1.7.7
	github.com/miekg/dns v1.1.73
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
)
