//go:build integration

package integration

// check_dns_answer against unbound (zone lab.test, UDP/TCP on 53, DNS over TLS on
// 853), and --dnssec against BIND 9.18 (5301) and Knot DNS (5302) signing
// their zones; check_ftp_noop against vsftpd (21) and pyftpdlib (2121), and
// against postfix (25), which is no FTP server; all in lbc-srv, started by
// netns.sh.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	builtDir  string
	buildErr  error
)

// binaryFor is the named command: beside LBC_BIN when that is set, else
// built once into the state dir (netns.sh down removes it), with lbcheck
// beside it, which runs what the check binaries leave out (--tls,
// --dnssec, --auth-tls).
func binaryFor(t *testing.T, name string) string {
	t.Helper()
	if b := os.Getenv("LBC_BIN"); b != "" {
		return filepath.Join(filepath.Dir(binPath), name)
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		builtDir = filepath.Join(stateDir, "bin")
		build := exec.Command("go", "build", "-o", builtDir+"/", "./cmd/check_dns_answer", "./cmd/check_ftp_noop", "./cmd/lbcheck")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return filepath.Join(builtDir, name)
}

// run runs bin inside the client namespace, with the same guards as check.
func run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", nsClient, bin}, args...)...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no MARK from our environment
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	r := result{bin: filepath.Base(bin), args: args, stdout: so.String(), stderr: se.String(), wall: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("binary hung: killed after %v\n%s", hangLimit, r)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("could not run %s: %v\n%s", bin, err, r)
	}
	return r
}

type pcase struct {
	name string
	args []string
	code int
	re   string // the first line must match
	max  time.Duration
}

func runPlugin(t *testing.T, bin, label string, cases []pcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, bin, c.args...)
			first := r.first()
			if r.code != c.code {
				t.Errorf("exit %d, want %d", r.code, c.code)
			}
			// --exit-style binary: exit 1 for any state but OK.
			want := stateOfCode[c.code]
			if slices.Contains(c.args, "binary") {
				want = `\S+`
			}
			if !regexp.MustCompile(`^` + label + ` ` + want + ` - \S`).MatchString(first) {
				t.Errorf("first line %q is not `%s %s - summary`", first, label, want)
			}
			if !regexp.MustCompile(c.re).MatchString(first) {
				t.Errorf("first line does not match %q", c.re)
			}
			if c.max > 0 && r.wall > c.max {
				t.Errorf("took %v, want at most %v", r.wall, c.max)
			}
			if t.Failed() {
				t.Logf("\n%s", r)
			}
		})
	}
}

func TestDNSUnbound(t *testing.T) {
	bin := binaryFor(t, "check_dns_answer")
	ok := `\| time=[\d.]+s;;;0;\d+$`
	runPlugin(t, bin, "DNS", []pcase{
		{"A v4 udp", a("--name", "www.lab.test", srv4), exitOK, `^DNS OK - NOERROR, 1 answer \(A 10\.99\.0\.2\) from 10\.99\.0\.2:53/udp in .*` + ok, 0},
		{"A v6 udp", a("--name", "www.lab.test", srv6), exitOK, `NOERROR, 1 answer \(A 10\.99\.0\.2\) from \[fd00:99::2\]:53/udp`, 0},
		{"A v4 tcp", a("--tcp", "--name", "www.lab.test", srv4), exitOK, `from 10\.99\.0\.2:53/tcp`, 0},
		{"AAAA v6 tcp", a("--tcp", "--type", "AAAA", "--name", "www.lab.test", "--expect", "fd00:99::2", srv6), exitOK, `1 answer \(AAAA fd00:99::2\) from \[fd00:99::2\]:53/tcp`, 0},
		{"expect match", a("--name", "www.lab.test", "--expect", srv4, srv4), exitOK, `OK - NOERROR`, 0},
		{"expect mismatch", a("--name", "www.lab.test", "--expect", "10.99.0.9", srv4), exitCritical, `CRITICAL - NOERROR, 1 answer \(A 10\.99\.0\.2\) .*, none is "10\.99\.0\.9"`, 0},
		{"cname target", a("--name", "alias.lab.test", "--expect", "www.lab.test", srv4), exitOK, `CNAME www\.lab\.test\.`, 0},
		{"txt string v6 tcp", a("--tcp", "--type", "TXT", "--name", "txt.lab.test", "--expect", "second string", srv6), exitOK, `TXT "v=lbcheck1" "second string"`, 0},
		{"mx", a("--type", "MX", "--name", "mx.lab.test", "--expect", "10 www.lab.test", srv4), exitOK, `MX 10 www\.lab\.test\.`, 0},
		{"soa norecurse", a("--norecurse", "--type", "SOA", "--name", "lab.test", srv4), exitOK, `1 answer \(SOA ns\.lab\.test\. `, 0},
		{"nodata", a("--name", "nodata.lab.test", srv4), exitOK, `OK - NOERROR, no answers from`, 0},
		{"nodata with expect", a("--name", "nodata.lab.test", "--expect", srv4, srv6), exitCritical, `NOERROR, no answers .*none is`, 0},
		{"nxdomain", a("--name", "missing.lab.test", srv4), exitCritical, `^DNS CRITICAL - NXDOMAIN from 10\.99\.0\.2:53/udp for missing\.lab\.test\. A, expected NOERROR`, 0},
		{"nxdomain v6 tcp", a("--tcp", "--name", "missing.lab.test", srv6), exitCritical, `NXDOMAIN from \[fd00:99::2\]:53/tcp`, 0},
		{"nxdomain accepted", a("--rcode", "NXDOMAIN", "--name", "missing.lab.test", srv4), exitOK, `OK - NXDOMAIN, no answers`, 0},
		{"dnssec unsigned zone", a("--dnssec", "--name", "www.lab.test", srv4), exitCritical, `unsigned: no RRSIG over www\.lab\.test\. A`, 0},
		{"dot v4", a("--tls", "--name", "www.lab.test", srv4), exitOK, `from 10\.99\.0\.2:853/tls`, 0},
		{"dot v6 verified", a("--tls", "--ca-file", caFile(), "--sni", "www.lab.test", "--name", "www.lab.test", srv6), exitOK, `from \[fd00:99::2\]:853/tls`, 0},
		{"dot wrong name", a("--tls", "--ca-file", caFile(), "--sni", "other.lab.test", srv4), exitCritical, `TLS handshake`, 0},
		{"bind v6", a("-b", cli6, "--name", "www.lab.test", srv6), exitOK, `OK`, 0},
		{"udp closed port", a("--name", "www.lab.test", srv4, "84"), exitCritical, `/udp: connection refused`, time.Second},
		{"tcp dropped port", a("-t", "1", "--tcp", srv4, "81"), exitCritical, `connect to 10\.99\.0\.2:81/tcp: timed out after`, 1100 * time.Millisecond},
		{"tcp closed port v6", a("--tcp", srv6, "84"), exitCritical, `refused`, time.Second},
		{"unknown type", a("--type", "NOPE", srv4), exitUnknown, `--type`, 0},
	})
}

// TestDNSSECSigned: --dnssec against zones that BIND (dnssec-policy) and
// Knot sign themselves, with NSEC and with NSEC3: a positive answer, NODATA,
// NXDOMAIN and referrals all carry their signatures, each kind where it
// does (issue 13, item 6: every denial was CRITICAL); an unsigned zone
// fails every kind.
func TestDNSSECSigned(t *testing.T) {
	bin := binaryFor(t, "check_dns_answer")
	var cases []pcase
	for _, z := range []struct{ server, port, zone, proof string }{
		{"bind", "5301", "nsec.bind.test", "NSEC"},
		{"bind", "5301", "nsec3.bind.test", "NSEC3"},
		{"knot", "5302", "nsec.knot.test", "NSEC"},
		{"knot", "5302", "nsec3.knot.test", "NSEC3"},
	} {
		q := func(name string, extra ...string) []string {
			return append(extra, "--norecurse", "--dnssec", "--name", name+"."+z.zone, srv4, z.port)
		}
		at := regexp.QuoteMeta(srv4 + ":" + z.port)
		proof := regexp.QuoteMeta(z.proof)
		cases = append(cases,
			pcase{z.zone + " positive", q("www"), exitOK, `^DNS OK - NOERROR, 2 answers \(A 10\.99\.0\.2, RRSIG A 13 .* from ` + at + `/udp `, 0},
			pcase{z.zone + " positive v6 tcp", []string{"--tcp", "--norecurse", "--dnssec", "--type", "AAAA", "--name", "www." + z.zone, srv6, z.port}, exitOK, `^DNS OK - NOERROR, 2 answers \(AAAA fd00:99::2, RRSIG AAAA `, 0},
			pcase{z.zone + " nodata", q("txt"), exitOK, `^DNS OK - NOERROR, no answers, signed denial \(` + proof + `\) from ` + at + `/udp `, 0},
			pcase{z.zone + " nxdomain", q("missing", "--rcode", "NXDOMAIN"), exitOK, `^DNS OK - NXDOMAIN, no answers, signed denial \(` + proof + `\) from ` + at, 0},
			pcase{z.zone + " nxdomain not accepted", q("missing"), exitCritical, `^DNS CRITICAL - NXDOMAIN from ` + at + `/udp for missing\.`, 0},
			pcase{z.zone + " secure referral", q("host.secure"), exitOK, `^DNS OK - NOERROR, no answers, signed referral \(DS\) from ` + at, 0},
			pcase{z.zone + " insecure referral", q("host.insecure"), exitOK, `^DNS OK - NOERROR, no answers, signed referral \(` + proof + `\) from ` + at, 0},
		)
	}
	unsigned := func(name string, extra ...string) []string {
		return append(extra, "--norecurse", "--dnssec", "--name", name+".unsigned.bind.test", srv4, "5301")
	}
	cases = append(cases,
		pcase{"unsigned positive", unsigned("www"), exitCritical, `^DNS CRITICAL - NOERROR, 1 answer \(A 10\.99\.0\.2\) from 10\.99\.0\.2:5301/udp, unsigned: no RRSIG over www\.unsigned\.bind\.test\. A \|`, 0},
		pcase{"unsigned nodata", unsigned("txt"), exitCritical, `^DNS CRITICAL - NOERROR, no answers from .*, unsigned: no RRSIG over unsigned\.bind\.test\. SOA \|`, 0},
		pcase{"unsigned nxdomain", unsigned("missing", "--rcode", "NXDOMAIN"), exitCritical, `^DNS CRITICAL - NXDOMAIN, no answers from .*, unsigned: no RRSIG over unsigned\.bind\.test\. SOA \|`, 0},
		pcase{"unsigned insecure referral", unsigned("host.insecure"), exitCritical, `unsigned: a referral without DS, NSEC or NSEC3 \|`, 0},
		// BIND leaves an unsigned zone's DS out of its referrals.
		pcase{"unsigned zone's delegation with a ds", unsigned("host.secure"), exitCritical, `unsigned: a referral without DS, NSEC or NSEC3 \|`, 0},
		pcase{"unsigned without --dnssec", []string{"--norecurse", "--name", "www.unsigned.bind.test", srv4, "5301"}, exitOK, `^DNS OK - NOERROR, 1 answer \(A 10\.99\.0\.2\)`, 0},
	)
	runPlugin(t, bin, "DNS", cases)
}

func TestFTPServers(t *testing.T) {
	bin := binaryFor(t, "check_ftp_noop")
	vsftpd := `"220 \(vsFTPd [\d.]+\)"`
	pyftpd := `"220 lbcheck pyftpdlib ready"`
	runPlugin(t, bin, "FTP_NOOP", []pcase{
		{"vsftpd v4 530 before login", a(srv4), exitOK, `^FTP_NOOP OK - NOOP 530 \(login needed; the command loop answers\) from 10\.99\.0\.2:21 in [\d.]+ ms; ` + vsftpd + ` \| time=`, 0},
		{"vsftpd v6", a(srv6), exitOK, `NOOP 530 .* from \[fd00:99::2\]:21 `, 0},
		{"vsftpd anonymous v4", a("--user", "anonymous", "--password", "probe@", srv4), exitOK, `OK - NOOP 200 from 10\.99\.0\.2:21 in [\d.]+ ms, as anonymous; ` + vsftpd, 0},
		{"vsftpd anonymous v6", a("--user", "anonymous", srv6), exitOK, `NOOP 200 .*as anonymous`, 0},
		{"vsftpd unknown user", a("--user", "nobody-here", "--password", "x", srv4), exitCritical, `refused the login as nobody-here: "530 `, 0},
		{"vsftpd auth tls v4", a("--auth-tls", srv4), exitOK, `NOOP 530 .*, TLS 1\.[23]; `, 0},
		{"vsftpd auth tls login v6 verified", a("--auth-tls", "--ca-file", caFile(), "--sni", "www.lab.test", "--user", "anonymous", srv6), exitOK, `NOOP 200 .*, TLS 1\.[23], as anonymous; `, 0},
		{"pyftpdlib v4", a(srv4, "2121"), exitOK, `^FTP_NOOP OK - NOOP 200 from 10\.99\.0\.2:2121 in [\d.]+ ms; ` + pyftpd, 0},
		{"pyftpdlib v6 login", a("--user", "lab", "--password", "secret", srv6, "2121"), exitOK, `NOOP 200 from \[fd00:99::2\]:2121 .*, as lab; `, 0},
		{"pyftpdlib wrong password", a("--user", "lab", "--password", "wrong", srv4, "2121"), exitCritical, `refused the login as lab: "530 `, 0},
		{"pyftpdlib auth tls login", a("--auth-tls", "--user", "anonymous", srv4, "2121"), exitOK, `NOOP 200 .*TLS 1\.[23], as anonymous`, 0},
		{"http is not ftp", a("-t", "1", srv4, "80"), exitCritical, `waiting for the greeting from 10\.99\.0\.2:80: timed out`, 1100 * time.Millisecond},
		{"dropped port", a("-t", "1", srv4, "81"), exitCritical, `connect to 10\.99\.0\.2:81: timed out after`, 1100 * time.Millisecond},
		{"dropped port v6", a("-t", "0.5", srv6, "81"), exitCritical, `timed out after`, 600 * time.Millisecond},
		{"closed port", a(srv4, "84"), exitCritical, `connect to 10\.99\.0\.2:84: connection refused`, time.Second},
		{"closed port v6", a(srv6, "84"), exitCritical, `connection refused`, time.Second},
		{"binary exit style", a("--exit-style", "binary", srv4, "84"), 1, `refused`, 0},
		// Issue 13, item 2: SMTP answers NOOP with 250, which FTP never does.
		{"smtp is not ftp", a(srv4, "25"), exitCritical, `^FTP_NOOP CRITICAL - NOOP at 10\.99\.0\.2:25 answered "250 2\.0\.0 Ok", not a reply to NOOP: an SMTP server\? \|`, 0},
		{"smtp is not ftp v6", a(srv6, "25"), exitCritical, `an SMTP server\?`, 0},
		{"smtp refuses the login", a("--user", "anonymous", srv4, "25"), exitCritical, `^FTP_NOOP CRITICAL - 10\.99\.0\.2:25 (answered USER with|refused the login as anonymous:) "5\d\d `, 0},
	})
}
