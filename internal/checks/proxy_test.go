package checks

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
	"github.com/lbcheck/lbcheck/internal/target"
)

// TestModuleProxyProtocol: a daemon module takes --proxy-protocol as the
// binaries do, and its probe begins the connection with the header naming
// the connection's own endpoints.
func TestModuleProxyProtocol(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				// The header's source is the peer we see.
				want := "PROXY TCP4 127.0.0.1 127.0.0.1 " + strconv.Itoa(c.RemoteAddr().(*net.TCPAddr).Port) + " " + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + "\r\n"
				if line != want {
					got <- "first line " + strconv.Quote(line) + ", want " + strconv.Quote(want)
					return
				}
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
				got <- ""
			}()
		}
	}()
	r := New(halfopen.Spec)
	cmd, err := r.Module([]string{"check_http_status", "--proxy-protocol", "v1"})
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v := cmd.Run(ctx, target.Spec{Host: "127.0.0.1", IP: netip.MustParseAddr("127.0.0.1"), Port: port}, nil)
	if v.State != exitcode.OK {
		t.Errorf("verdict %v %s", v.State, v.Summary)
	}
	if msg := <-got; msg != "" {
		t.Error(msg)
	}
}

func TestModuleProxyProtocolRefusals(t *testing.T) {
	r := New(halfopen.Spec)
	for _, c := range []struct {
		name string
		argv []string
		want string // in the error; "" for none
	}{
		{"http v2", []string{"check_http_status", "--proxy-protocol", "v2"}, ""},
		{"ssl hello starttls", []string{"check_ssl_hello", "--starttls", "smtp", "--proxy-protocol", "v2-local"}, ""},
		{"ftp", []string{"check_ftp_noop", "--proxy-protocol", "v1"}, ""},
		{"dns udp v2", []string{"check_dns_answer", "--proxy-protocol", "v2"}, ""},
		{"dns tcp v1", []string{"check_dns_answer", "--tcp", "--proxy-protocol", "v1"}, ""},
		{"dns udp v1", []string{"check_dns_answer", "--proxy-protocol", "v1"}, "no form for UDP"},
		{"half-open", []string{"check_tcp_half_open", "--proxy-protocol", "v2"}, "opens no connection"},
		{"bad version", []string{"check_http_status", "--proxy-protocol", "2"}, "want v1, v2 or v2-local"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.Module(c.argv)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}
