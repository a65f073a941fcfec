package daemon

import (
	"fmt"
	"strings"
	"testing"
)

// manyKeys is a configuration with n unknown keys, each named at length.
func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString("allow: [10.0.0.0/8]\nmodules: {m: [check_dns_answer]}\n")
	for i := range n {
		fmt.Fprintf(&b, "unknown_key_%05d_%s: 1\n", i, strings.Repeat("x", 40))
	}
	return b.String()
}

// TestParseErrorBounded: however many problems a file has, the error is
// one line of at most a few hundred bytes past maxErrorLen, naming the
// first problems and how many more there are (20,000 unknown keys gave a
// 1.1 MB line, logged again on every reload).
func TestParseErrorBounded(t *testing.T) {
	tests := []struct {
		name, text string
		says       []string
	}{
		{"20,000 unknown keys", manyKeys(20000), []string{"field unknown_key_00000_x", "field unknown_key_00002_x", "and 19997 more"}},
		{"two unknown keys", manyKeys(2), []string{"field unknown_key_00000_x", "field unknown_key_00001_x"}},
		{"an allow entry a MiB long", "allow: [" + strings.Repeat("1", 1<<20) + "]\nmodules: {m: [check_dns_answer]}\n", []string{`allow "111`, "..."}},
		{"20,000 bad types", "allow: [10.0.0.0/8]\nmodules:\n" + strings.Repeat("  - x\n", 20000), []string{"cannot unmarshal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.text), registry())
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			t.Logf("%d bytes: %.300s", len(msg), msg)
			if len(msg) > maxErrorLen+100 || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error of %d bytes, want one line of at most %d", len(msg), maxErrorLen+100)
			}
			for _, s := range tt.says {
				if !strings.Contains(msg, s) {
					t.Errorf("error does not say %q", s)
				}
			}
		})
	}
}
