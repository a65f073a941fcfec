package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

// These tests run the built binary as the callers do, for what only a
// real process shows: file descriptors, signals, and the exit itself.

// built is the binary under test, built as it ships (static, no cgo),
// with lbcheck beside it; buildBinary builds them once into
// proctest.Dir.
var built = proctest.Binary{Name: "check_dns_answer", Env: []string{"CGO_ENABLED=0"}, Beside: []string{"../lbcheck"}}

func buildBinary(t *testing.T) string {
	return built.Build(t)
}

// TestProcess: what HAProxy, keepalived and Farmguardian rely on, on the
// real process, in both exit styles (see proctest.Check).
func TestProcess(t *testing.T) {
	proctest.Check{
		Bin: buildBinary(t), Label: "DNS",
		Up: hp(theDNS.Addr), Down: append([]string{"--name", "refused.lab.test"}, hp(theDNS.Addr)...),
		Silent:   append([]string{"--name", "silent.lab.test"}, hp(theDNS.Addr)...),
		Deadline: []string{"--attempts", "3", "--tcp"},
	}.Test(t)
}

// TestHandOver: a command line that needs a part the binary leaves out
// (--dnssec, which reads signatures with miekg/dns, and --tls) is run by
// lbcheck from the same directory, in the same process: the caller still
// has one process, the one it signals, and one verdict. Without lbcheck
// beside it, the check is UNKNOWN (it could not check), never CRITICAL. A
// plain question stays in the binary, and so does --expect, which it
// judges on the records it read.
func TestHandOver(t *testing.T) {
	bin := buildBinary(t)
	srv, dot := hp(theDNS.Addr), hp(theDNS.TLS)
	for _, tt := range []struct {
		name string
		args []string
		line string
	}{
		{"plain", append([]string{"--name", "www.lab.test"}, srv...), `^DNS OK - NOERROR, 1 answer \(A 192\.0\.2\.10\) from 127\.0\.0\.1:\d+/udp in `},
		{"plain tcp norecurse rcode", append([]string{"--tcp", "--norecurse", "--rcode", "NXDOMAIN", "--name", "missing.lab.test"}, srv...), `^DNS OK - NXDOMAIN, no answers from 127\.0\.0\.1:\d+/tcp in `},
		{"expect", append([]string{"--name", "www.lab.test", "--expect", "192.0.2.10"}, srv...), `^DNS OK - NOERROR, 1 answer \(A 192\.0\.2\.10\) from `},
		{"expect mismatch", append([]string{"--name", "www.lab.test", "--expect", "192.0.2.99"}, srv...), `^DNS CRITICAL - NOERROR, 1 answer \(A 192\.0\.2\.10\) from .*, none is "192\.0\.2\.99" \|`},
		{"expect txt string", append([]string{"--type", "TXT", "--name", "txt.lab.test", "--expect", "second string"}, srv...), `^DNS OK - NOERROR, 1 answer \(TXT "v=lbcheck1" "second string"\) from `},
		{"expect, truncated over udp, asked again over tcp", append([]string{"--name", "big.lab.test", "--expect", "198.51.100.40"}, srv...), `^DNS OK - NOERROR, 40 answers .* from 127\.0\.0\.1:\d+/tcp in `},
		{"dnssec", append([]string{"--name", "signed.lab.test", "--dnssec"}, srv...), `^DNS OK - NOERROR, 2 answers \(A 192\.0\.2\.20, RRSIG A 13 `},
		{"tls", append([]string{"--tls", "--name", "www.lab.test"}, dot...), `^DNS OK - NOERROR, 1 answer \(A 192\.0\.2\.10\) from 127\.0\.0\.1:\d+/tls`},
		{"bad usage first", append([]string{"--expect", "x", "--type", "BOGUS"}, srv...), `^DNS UNKNOWN - bad argument: --type "BOGUS"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := exec.Command(bin, tt.args...).Output()
			if !regexp.MustCompile(tt.line).Match(out) {
				t.Errorf("%q, want %s", out, tt.line)
			}
		})
	}

	// Which program runs the check, seen in /proc while it waits on a
	// silent server: then SIGTERM, and the verdict it brings.
	for _, tt := range []struct {
		name string
		args []string
		exe  string
	}{
		{"plain stays", []string{"--norecurse"}, "check_dns_answer"},
		{"expect stays", []string{"--expect", "192.0.2.10", "--expect", "second string"}, "check_dns_answer"},
		{"dnssec in the same process", []string{"--dnssec"}, "lbcheck"},
		{"dnssec with expect in the same process", []string{"--dnssec", "--expect", "192.0.2.10"}, "lbcheck"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proctest.HandedOver(t, tt.exe, bin, append(append([]string{"-t", "10", "--name", "silent.lab.test"}, tt.args...), srv...)...)
		})
	}

	t.Run("no lbcheck beside it", func(t *testing.T) {
		alone := proctest.Alone(t, bin)
		for _, opt := range [][]string{{"--dnssec"}, {"--tls"}} {
			out, err := exec.Command(alone, append(append([]string{"--name", "www.lab.test"}, opt...), srv...)...).Output()
			want := "DNS UNKNOWN - " + opt[0] + " needs lbcheck beside check_dns_answer"
			if code := proctest.ExitCode(t, err); code != 3 || !strings.HasPrefix(string(out), want) {
				t.Errorf("%s: exit %d, %q; want 3, %q", opt[0], code, out, want)
			}
		}
		// A plain question needs nothing beside it, with --expect too.
		for _, tt := range []struct {
			args []string
			code int
			out  string
		}{
			{nil, 0, "DNS OK - NOERROR, 1 answer (A 192.0.2.10)"},
			{[]string{"--expect", "192.0.2.10", "--expect", "::ffff:192.0.2.10"}, 0, "DNS OK - NOERROR, 1 answer (A 192.0.2.10)"},
			{[]string{"--expect", "192.0.2.99"}, 2, `DNS CRITICAL - NOERROR, 1 answer (A 192.0.2.10) from 127.0.0.1:`},
		} {
			out, err := exec.Command(alone, append(append([]string{"--name", "www.lab.test"}, tt.args...), srv...)...).Output()
			if code := proctest.ExitCode(t, err); code != tt.code || !strings.HasPrefix(string(out), tt.out) {
				t.Errorf("%q, alone: exit %d, %q; want %d, %q", tt.args, code, out, tt.code, tt.out)
			}
		}
	})
}
