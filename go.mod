module github.com/lbcheck/lbcheck

go 1.26.0

require (
	github.com/miekg/dns v1.1.73
	github.com/spf13/pflag v1.0.10
	golang.org/x/sys v0.49.0
)

require golang.org/x/net v0.57.0 // indirect
