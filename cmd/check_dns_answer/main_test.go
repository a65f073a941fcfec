package main

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/lab"
	"github.com/lbcheck/lbcheck/internal/lab/proctest"
)

var (
	theLab *lab.Lab // for the closed TCP port
	theDNS *lab.DNS
)

func TestMain(m *testing.M) {
	spec = checks.DNS() // in process, every part: the binary hands over
	proctest.Main(m, func() (err error) {
		if theLab, err = proctest.Start("lab", lab.Start); err != nil {
			return err
		}
		theDNS, err = proctest.Start("lab DNS", lab.StartDNS)
		return err
	})
}

func check(t *testing.T, args ...string) (int, string) { return proctest.Run(t, run, args...) }

func hp(a netip.AddrPort) []string { return proctest.HostPort(a) }

func TestCheckDNS(t *testing.T) {
	srv, dot := hp(theDNS.Addr), hp(theDNS.TLS)
	q := func(extra ...string) []string { return append(extra, srv...) }
	proctest.Verdicts(t, run, []proctest.Verdict{
		{"root default", srv, 0, `^DNS OK - NOERROR, no answers from 127\.0\.0\.1:\d+/udp in [\d.]+ ms \| time=[\d.]+s;;;0;5$`},
		{"-H -p", []string{"-H", "127.0.0.1", "-p", srv[1]}, 0, `^DNS OK - NOERROR`},
		{"haproxy argv", []string{"NOT_USED", "NOT_USED", srv[0], srv[1]}, 0, `^DNS OK - NOERROR`},
		{"a record", q("--name", "www.lab.test"), 0, `^DNS OK - NOERROR, 1 answer \(A 192\.0\.2\.10\) from 127\.0\.0\.1:\d+/udp in `},
		{"aaaa record", q("--name", "www.lab.test", "--type", "aaaa"), 0, `OK - NOERROR, 1 answer \(AAAA 2001:db8::10\)`},
		{"tcp", q("--tcp", "--name", "www.lab.test"), 0, `OK - NOERROR, 1 answer \(A 192\.0\.2\.10\) from 127\.0\.0\.1:\d+/tcp`},
		{"expect address", q("--name", "www.lab.test", "--expect", "192.0.2.10"), 0, `OK - NOERROR, 1 answer`},
		{"expect v6 spelled long", q("--name", "www.lab.test", "--type", "AAAA", "--expect", "2001:0db8:0:0::0010"), 0, `OK`},
		{"expect mismatch", q("--name", "www.lab.test", "--expect", "192.0.2.99"), 2, `^DNS CRITICAL - NOERROR, 1 answer \(A 192\.0\.2\.10\) from .*, none is "192\.0\.2\.99" \|`},
		{"expect every value", q("--name", "www.lab.test", "--expect", "192.0.2.10", "--expect", "192.0.2.11"), 2, `none is "192\.0\.2\.11"`},
		{"cname chain", q("--name", "alias.lab.test", "--expect", "www.lab.test", "--expect", "192.0.2.10"), 0, `OK - NOERROR, 2 answers \(CNAME www\.lab\.test\., A 192\.0\.2\.10\)`},
		{"cname target with dot", q("--name", "alias.lab.test", "--expect", "WWW.lab.test."), 0, `OK`},
		{"txt string", q("--name", "txt.lab.test", "--type", "TXT", "--expect", "second string"), 0, `OK - NOERROR, 1 answer \(TXT "v=lbcheck1" "second string"\)`},
		{"txt joined", q("--name", "txt.lab.test", "--type", "TXT", "--expect", "v=lbcheck1second string"), 0, `OK`},
		{"txt not a substring", q("--name", "txt.lab.test", "--type", "TXT", "--expect", "second"), 2, `CRITICAL - .*none is "second"`},
		{"mx fields", q("--name", "mx.lab.test", "--type", "MX", "--expect", "10 mail.lab.test"), 0, `OK - NOERROR, 1 answer \(MX 10 mail\.lab\.test\.\)`},
		{"generic type", q("--name", "www.lab.test", "--type", "TYPE1"), 0, `OK - NOERROR, 1 answer \(A `},
		{"nodata", q("--name", "nodata.lab.test"), 0, `OK - NOERROR, no answers`},
		{"nodata with expect", q("--name", "nodata.lab.test", "--expect", "192.0.2.10"), 2, `CRITICAL - NOERROR, no answers from .*, none is`},
		{"nxdomain", q("--name", "missing.lab.test"), 2, `^DNS CRITICAL - NXDOMAIN from 127\.0\.0\.1:\d+/udp for missing\.lab\.test\. A, expected NOERROR \|`},
		{"nxdomain accepted", q("--name", "missing.lab.test", "--rcode", "nxdomain"), 0, `OK - NXDOMAIN, no answers`},
		{"rcode list", q("--name", "missing.lab.test", "--rcode", "NOERROR, NXDOMAIN"), 0, `OK - NXDOMAIN`},
		{"rcode number", q("--name", "refused.lab.test", "--rcode", "5"), 0, `OK - REFUSED`},
		{"servfail", q("--name", "servfail.lab.test"), 2, `CRITICAL - SERVFAIL from .* expected NOERROR`},
		{"refused", q("--name", "refused.lab.test"), 2, `CRITICAL - REFUSED from`},
		{"truncated, no expect", q("--name", "big.lab.test"), 0, `OK - NOERROR, \d+ answers \(A 198\.51\.100\.1, A 198\.51\.100\.2, \.\.\.\), truncated from .*/udp`},
		{"truncated retried over tcp", q("--name", "big.lab.test", "--expect", "198.51.100.40"), 0, `OK - NOERROR, 40 answers .* from 127\.0\.0\.1:\d+/tcp`},
		{"dnssec", q("--name", "signed.lab.test", "--dnssec"), 0, `OK - NOERROR, 2 answers \(A 192\.0\.2\.20, RRSIG A 13 `},
		{"dnssec unsigned", q("--name", "www.lab.test", "--dnssec"), 2, `CRITICAL - NOERROR, 1 answer .*, unsigned: no RRSIG over www\.lab\.test\. A \|`},
		{"dnssec unsigned nxdomain", q("--name", "missing.lab.test", "--rcode", "NXDOMAIN", "--dnssec"), 2, `CRITICAL - NXDOMAIN, no answers from .*, unsigned: no RRSIG over lab\.test\. SOA \|`},
		// Issue 13, item 5: what miekg/dns unpacks leniently.
		{"header claims 65535 answers", q("--name", "badcount.lab.test"), 2, `^DNS CRITICAL - malformed reply from 127\.0\.0\.1:\d+/udp: the header counts 65535 answers, 1 present \|`},
		{"header claims 65535 answers over tcp", q("--tcp", "--name", "badcount.lab.test"), 2, `^DNS CRITICAL - malformed reply from 127\.0\.0\.1:\d+/tcp: the header counts 65535 answers, 1 present \|`},
		{"bytes after the last record", q("--name", "trailing.lab.test"), 2, `^DNS CRITICAL - malformed reply from 127\.0\.0\.1:\d+/udp: 13 bytes after the last record \|`},
		{"spoofed replies ignored", q("--name", "spoof.lab.test", "--expect", "192.0.2.30"), 0, `OK - NOERROR, 1 answer \(A 192\.0\.2\.30\)`},
		{"spoofed replies over tcp", q("--tcp", "--name", "spoof.lab.test", "--expect", "192.0.2.30"), 0, `OK - NOERROR, 1 answer \(A 192\.0\.2\.30\) from .*/tcp`},
		{"only spoofed replies", q("-t", "0.3", "--name", "spoofonly.lab.test"), 2, `^DNS CRITICAL - waiting for the answer from 127\.0\.0\.1:\d+/udp \(ignored 3 replies, last: a query, not a reply\): timed out after (2[6-9]\d|3\d\d)(\.\d+)? ms$`},
		{"garbage over udp ignored", q("-t", "0.3", "--name", "garbage.lab.test"), 2, `/udp \(ignored 1 reply, last: not a DNS message\): timed out after`},
		{"garbage over tcp", q("--tcp", "--name", "garbage.lab.test"), 2, `CRITICAL - not a DNS message from 127\.0\.0\.1:\d+/tcp: "\\x00\\x01SSH-2\.0-OpenSSH_9\.2\\r\\n" \|`},
		{"silent udp", q("-t", "0.3", "--name", "silent.lab.test"), 2, `^DNS CRITICAL - waiting for the answer from .*/udp: timed out after`},
		{"silent tcp", q("-t", "0.3", "--tcp", "--name", "silent.lab.test"), 2, `/tcp: timed out after`},
		{"timeout state", q("-t", "0.2", "--name", "silent.lab.test", "--timeout-state", "warning"), 1, `^DNS WARNING - .*timed out`},
		{"udp port unreachable", hp(theDNS.ClosedUD), 2, `^DNS CRITICAL - waiting for the answer from 127\.0\.0\.1:\d+/udp: connection refused \|`},
		{"tcp refused", append([]string{"--tcp"}, hp(theLab.Closed)...), 2, `CRITICAL - connect to 127\.0\.0\.1:\d+/tcp: connection refused`},
		{"tls", append([]string{"--tls", "--name", "www.lab.test"}, dot...), 0, `OK - NOERROR, 1 answer \(A 192\.0\.2\.10\) from 127\.0\.0\.1:\d+/tls`},
		{"tls verified", append([]string{"--tls", "--ca-file", theDNS.CAFile, "--sni", lab.CertName}, dot...), 0, `OK - NOERROR`},
		{"tls verified by ip", append([]string{"--tls", "--ca-file", theDNS.CAFile}, dot...), 0, `OK - NOERROR`},
		{"tls wrong name", append([]string{"--tls", "--ca-file", theDNS.CAFile, "--sni", "other.example"}, dot...), 2, `CRITICAL - TLS handshake with .*/tls: .*other\.example`},
		{"tls on plain port", q("--tls", "-t", "1"), 2, `CRITICAL - TLS handshake with`},
		{"norecurse", q("--norecurse", "-v", "--name", "www.lab.test"), 0, `OK`},
		{"bind", q("-b", "127.0.0.1"), 0, `OK`},
		{"bind not local", q("-b", "192.0.2.1"), 3, `^DNS UNKNOWN - connect to .*: socket setup: bind 192\.0\.2\.1`},
		{"attempts all fail", q("--name", "servfail.lab.test", "--attempts", "2", "--retry-delay", "0"), 2, `SERVFAIL .*\(attempt 2 of 2\)`},
		{"warning threshold", q("-w", "@0:10"), 1, `^DNS WARNING - NOERROR.*time outside warning range`},
		{"exit style binary", q("--name", "refused.lab.test", "--exit-style", "binary"), 1, `^DNS CRITICAL - REFUSED`},
	})
}

func TestIPv6(t *testing.T) {
	if !theDNS.Addr6.IsValid() {
		t.Fatal("no IPv6 loopback: the lab could not listen on [::1]")
	}
	port := fmt.Sprint(theDNS.Addr6.Port())
	for _, args := range [][]string{
		{"::1", port},
		{"[::1]:" + port},
		{"--tcp", "::1", port},
		{"-b", "::1", "::1", port},
	} {
		code, out := check(t, append(args, "--name", "www.lab.test", "--type", "AAAA", "--expect", "2001:db8::10")...)
		if code != 0 || !strings.Contains(out, "from [::1]:"+port+"/") {
			t.Errorf("%v: exit %d: %s", args, code, out)
		}
	}
}

// TestUsageErrors: bad options are UNKNOWN before anything is sent; the
// lab's silent name would otherwise hold the check until its deadline.
func TestUsageErrors(t *testing.T) {
	// The parser keeps the last --name: a bad one in a case wins. The
	// silent name would hold a check that ran until its deadline.
	proctest.UsageErrors{Run: run, Label: "DNS", Before: []string{"--name", "silent.lab.test"}, After: hp(theDNS.Addr), Cases: []proctest.Usage{
		{"unknown type", []string{"--type", "BOGUS"}, `--type "BOGUS": not a DNS record type`},
		{"axfr", []string{"--type", "AXFR"}, "not a question a health check can ask"},
		{"type number too big", []string{"--type", "TYPE70000"}, "not a DNS record type"},
		{"unknown rcode", []string{"--rcode", "NOERROR,BROKEN"}, `"BROKEN" is not an rcode`},
		{"rcode out of range", []string{"--rcode", "4096"}, "is not an rcode"},
		{"empty rcode", []string{"--rcode", ""}, "is not an rcode"},
		{"bad name", []string{"--name", "a..b"}, "not a domain name"},
		{"long label", []string{"--name", strings.Repeat("a", 64) + ".test"}, "--name"},
		{"empty expect", []string{"--expect", " "}, "--expect: empty value"},
		{"verify without tls", []string{"--verify"}, "need --tls"},
		{"sni without tls", []string{"--sni", "x"}, "need --tls"},
		{"missing ca file", []string{"--tls", "--ca-file", "/nonexistent"}, "--ca-file"},
	}}.Test(t)
}

func TestDefaultPorts(t *testing.T) {
	for _, tt := range []struct {
		args []string
		port string
	}{{nil, ":53/"}, {[]string{"--tcp"}, ":53/"}, {[]string{"--tls"}, ":853/"}} {
		// 192.0.2.1 (TEST-NET) with a tiny deadline: nothing answers, and
		// the summary names the port the check used.
		_, out := check(t, append(tt.args, "-t", "0.05", "192.0.2.1")...)
		if !strings.Contains(out, "192.0.2.1"+tt.port) {
			t.Errorf("%v: %s, want port %s", tt.args, out, tt.port)
		}
	}
}

func TestJSON(t *testing.T) {
	code, v := proctest.JSON(t, run, append([]string{"--tcp", "--name", "www.lab.test"}, hp(theDNS.Addr)...)...)
	if code != 0 || v.Check != "DNS" || v.State != "OK" || v.Address != theDNS.Addr.String() {
		t.Errorf("unexpected verdict %+v", v)
	}
	v.Phases(t, "connect", "answer")
}

func TestVerboseTrace(t *testing.T) {
	_, quiet := check(t, hp(theDNS.Addr)...)
	if strings.Count(quiet, "\n") != 1 {
		t.Errorf("without -v, output is more than the verdict: %q", quiet)
	}
	_, v1 := check(t, append([]string{"-v", "--name", "spoof.lab.test", "--norecurse"}, hp(theDNS.Addr)...)...)
	for _, want := range []string{"> id ", " spoof.lab.test. A\n", "< ignored a reply: ID ", "< ignored a reply: question other.lab.test. A, not ours",
		"< ignored a reply: a query, not a reply", "NOERROR qr aa ra, 1 answer"} {
		if !strings.Contains(v1, want) {
			t.Errorf("-v trace lacks %q:\n%s", want, v1)
		}
	}
	if _, trace, _ := strings.Cut(v1, "\n"); strings.Contains(trace, "192.0.2.30") {
		t.Errorf("-v shows records, which are -vv:\n%s", v1)
	}
	_, v2 := check(t, append([]string{"-vv", "--name", "www.lab.test"}, hp(theDNS.Addr)...)...)
	if !regexp.MustCompile(`< www\.lab\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.10`).MatchString(v2) {
		t.Errorf("-vv trace lacks the record:\n%s", v2)
	}
}

func TestHelpAndVersion(t *testing.T) {
	proctest.HelpAndVersion(t, run, "check_dns_answer", "check_dns_answer [options] HOST [PORT]", "--name", "--type", "--rcode", "--expect", "--dnssec", "--norecurse", "--tls", "Examples:")
}

// TestDeadlineWhateverThePeerDoes: the verdict comes within --timeout and
// 100 ms, for every misbehaving peer.
func TestDeadlineWhateverThePeerDoes(t *testing.T) {
	srv := hp(theDNS.Addr)
	proctest.DeadlineInProcess(t, run, map[string][]string{
		"silent udp": append([]string{"--name", "silent.lab.test"}, srv...),
		"silent tcp": append([]string{"--tcp", "--name", "silent.lab.test"}, srv...),
		"spoofs":     append([]string{"--name", "spoofonly.lab.test"}, srv...),
		"attempts":   append([]string{"--attempts", "5", "--retry-delay", "10", "--name", "silent.lab.test"}, srv...),
	})
}

// TestOneTime: the summary's "in X ms" is perfdata's time (issue 16, item 4).
func TestOneTime(t *testing.T) {
	_, out := check(t, append([]string{"--name", "www.lab.test"}, hp(theDNS.Addr)...)...)
	proctest.SameTime(t, out)
}
