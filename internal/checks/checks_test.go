package checks

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/check"
)

// TestEveryCheck: lbcheck knows every check of the suite, by the name of
// its binary, with the label and options the binary has.
func TestEveryCheck(t *testing.T) {
	var got []string
	for _, s := range All() {
		got = append(got, s.Command)
	}
	if !slices.Equal(got, check.Commands) {
		t.Errorf("All() is %v, want %v", got, check.Commands)
	}
	for _, c := range check.Commands {
		if s, ok := Lookup(c); !ok || s.Command != c || s.Name == "" {
			t.Errorf("Lookup(%q) = %+v, %v", c, s, ok)
		}
	}
	if _, ok := Lookup("check_nothing"); ok {
		t.Error("Lookup found check_nothing")
	}
}

// TestEveryPart: what the plain binaries hand over, lbcheck runs: none of
// these command lines is missing a part here.
func TestEveryPart(t *testing.T) {
	for _, tt := range []struct {
		command string
		args    []string
	}{
		{"check_http_status", []string{"--tls", "--verify", "10.0.0.5"}},
		{"check_http_status", []string{"--body-regex", "up", "10.0.0.5"}},
		{"check_http_status", []string{"--digest", "0123456789abcdef0123456789abcdef", "10.0.0.5"}},
		{"check_ftp_noop", []string{"--auth-tls", "--sni", "ftp.test", "10.0.0.5"}},
		{"check_dns_answer", []string{"--tls", "10.0.0.5"}},
		{"check_dns_answer", []string{"--dnssec", "--expect", "192.0.2.1", "10.0.0.5"}},
		{"check_dns_answer", []string{"--dnssec", "10.0.0.5"}},
	} {
		s, _ := Lookup(tt.command)
		if _, err := check.Parse(&s, tt.args); err != nil {
			t.Errorf("%s %q: %v", tt.command, tt.args, err)
		}
	}
}

// TestPlainBinariesLeaveOutTheHeavyParts: the check binaries that hand
// over to lbcheck do not link what they hand over for: its package
// initialisation and page faults would be paid on every call (crypto/tls
// and x509 alone cost a plain HTTP check about a sixth of its time; miekg/dns
// links them, and all of crypto).
func TestPlainBinariesLeaveOutTheHeavyParts(t *testing.T) {
	heavy := []string{"crypto/tls", "crypto/x509", "crypto/md5", "regexp", "encoding/json",
		"github.com/miekg/dns", "github.com/spf13/pflag", "net/http"}
	for _, cmd := range []string{"check_http_status", "check_ftp_noop", "check_tcp_half_open", "check_dns_answer"} {
		out, err := exec.Command("go", "list", "-deps", "../../cmd/"+cmd).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("go list: %v\n%s", err, ee.Stderr)
			}
			t.Fatal(err)
		}
		for _, dep := range strings.Fields(string(out)) {
			// No crypto at all: every package of it has start-up work.
			if slices.Contains(heavy, dep) || dep == "crypto" || strings.HasPrefix(dep, "crypto/") {
				t.Errorf("%s links %s", cmd, dep)
			}
		}
	}
}
