// Command labd runs the test lab for `make demo`: it prints one line per
// server, "NAME ADDRESS", then "ca-file PATH" and "ready", and serves until
// its standard input closes or it is signalled.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/lbcheck/lbcheck/internal/lab"
)

func main() {
	l, err := lab.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "labd:", err)
		os.Exit(1)
	}
	defer l.Close()
	tl, err := lab.StartTLS()
	if err != nil {
		fmt.Fprintln(os.Stderr, "labd:", err)
		os.Exit(1)
	}
	defer tl.Close()
	for _, n := range append(l.Addrs(), tl.Addrs()...) {
		fmt.Printf("%s %s\n", n.Name, n.Addr)
	}
	d, err := lab.StartDNS()
	if err != nil {
		fmt.Fprintln(os.Stderr, "labd:", err)
		l.Close()
		os.Exit(1)
	}
	defer d.Close()
	for _, n := range d.Addrs() {
		fmt.Printf("%s %s\n", n.Name, n.Addr)
	}
	fmt.Printf("dns-ca-file %s\n", d.CAFile)
	f, err := lab.StartFTP()
	if err != nil {
		fmt.Fprintln(os.Stderr, "labd:", err)
		d.Close()
		l.Close()
		os.Exit(1)
	}
	defer f.Close()
	for _, n := range f.Addrs() {
		fmt.Printf("%s %s\n", n.Name, n.Addr)
	}
	fmt.Printf("ftp-ca-file %s\n", f.CAFile)
	fmt.Printf("ca-file %s\nready\n", l.CAFile)
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-done:
	case <-sig:
	}
}
