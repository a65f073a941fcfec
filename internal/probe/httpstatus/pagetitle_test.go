package httpstatus

import (
	"bufio"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
)

// TestPageTitle: the reason nginx gives for refusing a client certificate
// is the title of its 400 page, less the code; anything else is no reason,
// and what is read stays within a KiB and one printable line.
func TestPageTitle(t *testing.T) {
	nginx := "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n</body>\r\n</html>\r\n"
	tests := []struct {
		name, answer, want string
	}{
		{"nginx", "HTTP/1.1 400 Bad Request\r\nContent-Length: " + strconv.Itoa(len(nginx)) + "\r\n\r\n" + nginx, "The SSL certificate error"},
		{"chunked", "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n21\r\n<title>400 No certificate</title>\r\n0\r\n\r\n", "No certificate"},
		{"no title", "HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nhello", ""},
		{"unterminated", "HTTP/1.1 400 Bad Request\r\n\r\n<title>400 The SSL", ""},
		{"title past a KiB", "HTTP/1.1 400 Bad Request\r\n\r\n" + strings.Repeat(" ", 1024) + "<title>late</title>", ""},
		{"control characters", "HTTP/1.1 400 Bad Request\r\n\r\n<title>a\x1b[31m|b\n</title>", "a?[31m?b"},
		{"long", "HTTP/1.1 400 Bad Request\r\n\r\n<title>" + strings.Repeat("x", 200) + "</title>", strings.Repeat("x", 60)},
		{"head", "HTTP/1.1 400 Bad Request\r\nContent-Length: 40\r\n\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.answer))
			resp, err := readResponse(textproto.NewReader(br))
			if err != nil {
				t.Fatal(err)
			}
			o := &Options{Method: "GET"}
			if tt.name == "head" {
				o.Method = "HEAD"
			}
			p := &run{o: o}
			if got := p.pageTitle(resp, br); got != tt.want {
				t.Errorf("%q, want %q", got, tt.want)
			}
		})
	}
}

// TestSentCertNote: after we sent a client certificate, a 400 is called a
// refusal of it only when its page's title speaks of a certificate.
func TestSentCertNote(t *testing.T) {
	tests := []struct{ name, title, want string }{
		{"nginx, certificate refused", "The SSL certificate error", " (server rejected our client certificate: The SSL certificate error)"},
		{"nginx, none sent", "No required SSL certificate was sent", " (server rejected our client certificate: No required SSL certificate was sent)"},
		{"nginx, bad request for another reason", "Bad Request", " (we sent our client certificate)"},
		{"an application's own page", "Invalid Host header", " (we sent our client certificate)"},
		{"no title", "", " (we sent our client certificate)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sentCertNote(tt.title); got != tt.want {
				t.Errorf("%q, want %q", got, tt.want)
			}
		})
	}
}
