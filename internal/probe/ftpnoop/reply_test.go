package ftpnoop

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		code  int
		lines int
		err   string // "" for none
	}{
		{"single", "220 ready\r\n", 220, 1, ""},
		{"bare code", "200\r\n", 200, 1, ""},
		{"lf only", "220 ready\n", 220, 1, ""},
		{"multi-line", "220-a\r\n220-b\r\n220 c\r\n", 220, 3, ""},
		{"multi-line with free text", "220-a\r\n  indented\r\n220x not the end\r\n220 end\r\n", 220, 4, ""},
		{"other code does not end", "220-a\r\n230 no\r\n220 yes\r\n", 220, 3, ""},
		{"bare code ends multi-line", "211-a\r\n211\r\n", 211, 2, ""},
		{"next reply left unread", "220 a\r\n200 b\r\n", 220, 1, ""},
		{"empty", "", 0, 0, "EOF"},
		{"cut short", "220-a\r\n220-b", 220, 2, "unexpected EOF"},
		{"no code", "SSH-2.0-OpenSSH\r\n", 0, 1, "first line does not start with a code"},
		{"code 6xx", "600 no\r\n", 0, 1, "does not start with a code"},
		{"code then junk", "220x\r\n", 0, 1, "does not start with a code"},
		{"two digits", "22 x\r\n", 0, 1, "does not start with a code"},
		{"long line", "220 " + strings.Repeat("a", 3000) + "\r\n", 0, 1, "line longer than 2048 bytes"},
		{"long reply", "220-x\r\n" + strings.Repeat("220-"+strings.Repeat("a", 1000)+"\r\n", 20), 220, 0, "reply longer than 16 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp, err := readReply(bufio.NewReader(strings.NewReader(tt.in)))
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if rp.code != tt.code || (tt.lines > 0 && len(rp.lines) != tt.lines) {
				t.Errorf("code %d with %d lines, want %d with %d", rp.code, len(rp.lines), tt.code, tt.lines)
			}
		})
	}
}

// FuzzReadReply: any bytes give a reply with a valid code or an error,
// within the bounds, never a panic.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"220 ready\r\n", "220-a\r\n220 b\r\n", "120 later\r\n", "421-busy\n421 busy\n", "\x00\x01", "220-" + strings.Repeat("x", 3000)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rp, err := readReply(bufio.NewReaderSize(strings.NewReader(string(in)), 4096))
		total := 0
		for _, l := range rp.lines {
			total += len(l)
			if len(l) > maxLine {
				t.Fatalf("line of %d bytes kept", len(l))
			}
		}
		if total > maxReply+maxLine {
			t.Fatalf("reply of %d bytes kept", total)
		}
		if err == nil && (rp.code < 100 || rp.code > 599 || len(rp.lines) == 0) {
			t.Fatalf("reply %+v without error", rp)
		}
		if errors.Is(err, errNotFTP) && len(rp.lines) == 0 {
			t.Fatalf("%v with nothing to quote", err)
		}
	})
}
