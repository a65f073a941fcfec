package plugin

import (
	"strings"
	"testing"
)

// TestUsageErrorIsOneCleanLine: argv reaches the usage line through
// the parser's own messages too ("unknown flag: --X"), unquoted; the line stays
// printable ASCII without '|' and short, whatever was typed.
func TestUsageErrorIsOneCleanLine(t *testing.T) {
	hostile := "\x1b[31m\tX|Y\xff\u202e"
	tests := []struct {
		name string
		args []string
	}{
		{"unknown long flag", []string{"--" + hostile, "127.0.0.1"}},
		{"unknown shorthand", []string{"-\x1b", "127.0.0.1"}},
		{"flag value", []string{"--timeout", hostile, "127.0.0.1"}},
		{"host", []string{hostile}},
		{"long value", []string{"--format", strings.Repeat("\x1b", 5000), "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := runFake(t, fake(nil), tt.args...)
			line, rest, _ := strings.Cut(out, "\n")
			if code != 3 || rest != "" || !strings.HasPrefix(line, "FAKE UNKNOWN - ") || len(line) > 400 {
				t.Fatalf("exit %d, output %q", code, out)
			}
			for i := 0; i < len(line); i++ {
				if c := line[i]; c < 0x20 || c >= 0x7f || c == '|' {
					t.Fatalf("byte %#x at %d in %q", c, i, line)
				}
			}
		})
	}
}
