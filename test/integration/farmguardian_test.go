//go:build integration

package integration

// ZEVENET Farmguardian's way of running a check, with the command lines of
// packaging/farmguardian/farmguardian.conf: HOST and PORT replaced as plain
// text, libexec_dir put in front and the line run by /bin/sh (Perl
// backticks), exit 0 within the section's timeout up and anything else down,
// never killed, and on l4xnat farms `MARK=<mark> LD_PRELOAD=mark.so` in
// front. (From usr/local/zevenet/bin/farmguardian in zevenet/zlb.)

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	fgRecipes = "packaging/farmguardian/farmguardian.conf"
	fgMark    = 0x7b07 // the farm's mark in these tests
	// Nothing answers here: lbc_7b_fg drops every packet to it in lbc-srv.
	fgPortDropped = 9198
	// A TCP listener that accepts and never says a word, and a UDP socket
	// that reads and never answers.
	fgPortSilent = 9197
)

// fgCheck is one [section] of the recipe file.
type fgCheck struct {
	section, command string
	keys             map[string]string
}

// fgKeys are the keys Farmguardian's sections have (getFGStruct, plus
// timeout, which it reads since the zproxy releases).
var fgKeys = map[string]bool{"backend_alias": true, "command": true, "cut_conns": true, "description": true,
	"farms": true, "interval": true, "log": true, "template": true, "timeout": true}

// deadline is the section's `timeout`, `interval` when unset: a check that
// ends later is down whatever its exit code.
func (c fgCheck) deadline(t *testing.T) time.Duration {
	t.Helper()
	v, ok := c.keys["timeout"]
	if !ok {
		v = c.keys["interval"]
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("[%s]: timeout/interval %q is not a positive number of seconds", c.section, v)
	}
	return time.Duration(n) * time.Second
}

// readFGRecipes reads the command lines of the Farmguardian recipe file.
func readFGRecipes(t *testing.T) []fgCheck {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, fgRecipes))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Config::Tiny's format: [section], then key=value lines.
	var out []fgCheck
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			out = append(out, fgCheck{section: line[1 : len(line)-1], keys: map[string]string{}})
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || len(out) == 0 {
				t.Fatalf("%s: %q is neither a [section] nor a key=value in one", fgRecipes, line)
			}
			out[len(out)-1].keys[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range out {
		out[i].command = out[i].keys["command"]
		if out[i].command == "" {
			t.Fatalf("%s: [%s] has no command", fgRecipes, out[i].section)
		}
	}
	return out
}

// fgSubstitute is Farmguardian's substitution: s/HOST/host/g; s/PORT/port/g,
// case-sensitive, substrings included.
func fgSubstitute(command, host string, port int) string {
	command = strings.ReplaceAll(command, "HOST", host)
	return strings.ReplaceAll(command, "PORT", strconv.Itoa(port))
}

// fgTarget is where a recipe's check finds its service in the backend set.
func fgTarget(t *testing.T, command string) int {
	t.Helper()
	fields := strings.Fields(command)
	switch fields[0] {
	case "check_tcp_half_open":
		return bePortHTTP
	case "check_ssl_hello":
		return bePortTLS
	case "check_dns_answer":
		return bePortDNS
	case "check_ftp_noop":
		return bePortFTP
	case "check_http_status":
		for _, f := range fields {
			if f == "--tls" {
				return bePortTLS
			}
		}
		return bePortHTTP
	}
	t.Fatalf("recipe runs %q, which is none of the five checks", fields[0])
	return 0
}

// fgTimeout is the recipe's -t.
func fgTimeout(t *testing.T, command string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`(?:^| )-t ([0-9.]+)(?: |$)`).FindStringSubmatch(command)
	if m == nil {
		t.Fatalf("recipe %q has no -t: Farmguardian never kills a check, so every recipe sets its deadline", command)
	}
	s, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(s * float64(time.Second))
}

type fgResult struct {
	line string // what /bin/sh ran
	out  string
	code int
	wall time.Duration
}

// fgLine is the line Farmguardian runs for a (substituted) command:
// libexec_dir in front, the mark prefix, if any, before that. Our
// libexec_dir is the test's plugins directory.
func fgLine(t *testing.T, prefix, command string) string {
	t.Helper()
	return prefix + pluginDir(t) + "/" + command
}

func (r fgResult) String() string {
	return fmt.Sprintf("sh -c %q: exit %d in %v\n%s", r.line, r.code, r.wall.Round(time.Millisecond), r.out)
}

// fgRun runs a line as Farmguardian's backticks do: /bin/sh -c, in lbc-cli.
// The checks are found by the line's path alone: neither PATH nor the
// working directory holds them. Like Farmguardian it does not kill the
// check; only a run past hangLimit is killed, and that fails the test.
func fgRun(t *testing.T, line string, env ...string) fgResult {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Dir = "/"
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := nsStart(cmd, nsClient); err != nil {
		t.Fatalf("sh -c %q in %s: %v", line, nsClient, err)
	}
	hung := time.AfterFunc(hangLimit, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	r := fgResult{line: line, out: out.String(), wall: time.Since(start)}
	if !hung.Stop() {
		t.Fatalf("the check never ended; killed after %v\n%s", hangLimit, r)
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.Exited() {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sh -c %q: %v\n%s", line, err, r)
	}
	return r
}

// TestFarmguardianRecipeFile: the recipe file has one command per check,
// each with its own deadline, and HOST and PORT only as the two arguments
// Farmguardian fills in.
func TestFarmguardianRecipeFile(t *testing.T) {
	recipes := readFGRecipes(t)
	seen := map[string]bool{}
	for _, r := range recipes {
		t.Run(r.section, func(t *testing.T) {
			fields := strings.Fields(r.command)
			seen[fields[0]] = true
			if _, err := os.Stat(filepath.Join(pluginDir(t), fields[0])); err != nil {
				t.Errorf("%q runs %s, which the plugins directory does not hold: %v", r.command, fields[0], err)
			}
			hosts, ports := 0, 0
			for _, f := range fields[1:] {
				switch {
				case f == "HOST":
					hosts++
				case f == "PORT":
					ports++
				case strings.Contains(f, "HOST") || strings.Contains(f, "PORT"):
					t.Errorf("%q: %q would be rewritten by Farmguardian's s/HOST/…/g; s/PORT/…/g", r.command, f)
				}
			}
			if hosts != 1 || ports != 1 {
				t.Errorf("%q has HOST %d and PORT %d times, want once each", r.command, hosts, ports)
			}
			for k := range r.keys {
				if !fgKeys[k] {
					t.Errorf("[%s]: Farmguardian has no key %q", r.section, k)
				}
			}
			if _, ok := r.keys["interval"]; !ok {
				t.Errorf("[%s] has no interval", r.section)
			}
			// A check that ends after the section's timeout is down: -t must
			// leave room for the process itself.
			if limit, deadline := fgTimeout(t, r.command), r.deadline(t); limit+500*time.Millisecond > deadline {
				t.Errorf("[%s]: -t %v leaves under 0.5 s before Farmguardian's timeout %v", r.section, limit, deadline)
			}
			if strings.Contains(r.command, "--exit-style") {
				t.Errorf("%q: Farmguardian takes any non-zero exit as down: --exit-style is noise", r.command)
			}
		})
	}
	for _, bin := range []string{"check_tcp_half_open", "check_ssl_hello", "check_dns_answer", "check_ftp_noop", "check_http_status"} {
		if !seen[bin] {
			t.Errorf("%s has no recipe for %s", fgRecipes, bin)
		}
	}
}

// TestFarmguardianVerdicts runs every recipe against the backend set: up
// over IPv4 and IPv6, down on a closed port, and on a dropped port and a
// silent one it ends by itself within its -t.
func TestFarmguardianVerdicts(t *testing.T) {
	startBackendSet(t)
	fgSilentServers(t)
	nftTable(t, "lbc-srv", "inet", "lbc_7b_fg", fmt.Sprintf(`table inet lbc_7b_fg {
	chain input {
		type filter hook input priority -5; policy accept;
		meta l4proto { tcp, udp } th dport %d drop
	}
}`, fgPortDropped))
	for _, rc := range readFGRecipes(t) {
		t.Run(rc.section, func(t *testing.T) {
			port, limit := fgTarget(t, rc.command), fgTimeout(t, rc.command)
			for _, c := range []struct {
				name     string
				host     string
				port     int
				up       bool
				min, max time.Duration
			}{
				{"up ipv4", srv4, port, true, 0, time.Second},
				{"up ipv6", srv6, port, true, 0, time.Second},
				{"closed port", srv4, bePortClosed, false, 0, time.Second},
				{"closed port ipv6", srv6, bePortClosed, false, 0, time.Second},
				// never an answer, never killed: the check's own deadline ends it
				{"dropped port", srv4, fgPortDropped, false, limit - 50*time.Millisecond, limit + 100*time.Millisecond},
				// a listener that never answers: the half-open check only
				// asks the kernel, which does answer
				{"silent server", srv4, fgPortSilent, strings.HasPrefix(rc.command, "check_tcp_half_open "), 0, limit + 100*time.Millisecond},
			} {
				t.Run(c.name, func(t *testing.T) {
					r := fgRun(t, fgLine(t, "", fgSubstitute(rc.command, c.host, c.port)))
					if up := r.code == 0 && r.wall < rc.deadline(t); up != c.up {
						t.Errorf("Farmguardian reads exit %d after %v as up=%v, want up=%v\n%s", r.code, r.wall.Round(time.Millisecond), up, c.up, r)
					}
					if r.wall < c.min || r.wall > c.max {
						t.Errorf("took %v, want %v..%v\n%s", r.wall.Round(time.Millisecond), c.min, c.max, r)
					}
				})
			}
		})
	}
}

// fgSilentServers listens on fgPortSilent in lbc-srv: TCP accepts and
// reads forever, UDP reads forever; neither ever answers.
func fgSilentServers(t *testing.T) {
	t.Helper()
	for _, addr := range []string{
		fmt.Sprintf("TCP6-LISTEN:%d,ipv6only=0,fork,reuseaddr", fgPortSilent),
		fmt.Sprintf("UDP6-RECV:%d,ipv6only=0", fgPortSilent),
	} {
		cmd := exec.Command("ip", "netns", "exec", "lbc-srv", "socat", "-u", addr, "OPEN:/dev/null")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	// the TCP listener is up once a connection is accepted
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := exec.Command("ip", "netns", "exec", nsClient, "bash", "-c",
			fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", srv4, fgPortSilent)).Run()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("silent socat on %d does not accept: %v", fgPortSilent, err)
		}
	}
}

var (
	markSOOnce sync.Once
	markSOPath string
	markSOErr  error
)

// markSO builds testdata/mark.c: our stand-in for Farmguardian's mark.so.
func markSO(t *testing.T) string {
	t.Helper()
	markSOOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			markSOErr = err
			return
		}
		markSOPath = filepath.Join(stateDir, "mark-7b", "mark.so")
		if err := os.MkdirAll(filepath.Dir(markSOPath), 0o755); err != nil {
			markSOErr = err
			return
		}
		out, err := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", markSOPath,
			filepath.Join(root, "test", "integration", "testdata", "mark.c"), "-ldl").CombinedOutput()
		if err != nil {
			markSOErr = fmt.Errorf("gcc mark.c: %v\n%s", err, out)
		}
	})
	if markSOErr != nil {
		t.Fatal(markSOErr)
	}
	return markSOPath
}

// TestFarmguardianMark: on an l4xnat farm Farmguardian prefixes the command
// with MARK=<mark> LD_PRELOAD=mark.so. Every packet each recipe's probe
// sends to the backend carries the mark (counted in lbc-cli's output hook),
// and mark.so is never loaded into our checks: the mark is our reading of
// $MARK. A dynamic program (curl) with the same prefix shows that mark.so
// and the counters do work.
func TestFarmguardianMark(t *testing.T) {
	startBackendSet(t)
	so := markSO(t)
	// Per port: packets with the mark, and packets without it that are
	// not RSTs. An RST without the mark is the kernel's own answer to a
	// segment no socket owns (the half-open check's SYN+ACK): not ours.
	var rules, counters strings.Builder
	for _, p := range []int{bePortHTTP, bePortTLS, bePortDNS, bePortFTP} {
		fmt.Fprintf(&counters, "\tcounter marked%d {}\n\tcounter unmarked%d {}\n", p, p)
		fmt.Fprintf(&rules, "\t\tip daddr %s th dport %d meta mark %#x counter name marked%d accept\n", srv4, p, fgMark, p)
		fmt.Fprintf(&rules, "\t\tip daddr %s tcp dport %d tcp flags & rst == rst accept\n", srv4, p)
		fmt.Fprintf(&rules, "\t\tip daddr %s th dport %d counter name unmarked%d\n", srv4, p, p)
	}
	nftTable(t, nsClient, "inet", "lbc_7b_mark", fmt.Sprintf(`table inet lbc_7b_mark {
%s	chain output {
		type filter hook output priority 0; policy accept;
%s	}
}`, counters.String(), rules.String()))
	// counts is (marked, unmarked) packets to port since the last call
	last := map[string]int{}
	counts := func(port int) (int, int) {
		var n [2]int
		for i, name := range []string{fmt.Sprintf("marked%d", port), fmt.Sprintf("unmarked%d", port)} {
			v := nftCounter(t, nsClient, "lbc_7b_mark", name)
			n[i], last[name] = v-last[name], v
		}
		return n[0], n[1]
	}
	logPath := filepath.Join(t.TempDir(), "mark.so.log")
	readLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	prefix := fmt.Sprintf("MARK=%d LD_PRELOAD=%s ", fgMark, so)
	logEnv := "LBC_MARKSO_LOG=" + logPath

	t.Run("mark.so marks a libc program", func(t *testing.T) {
		counts(bePortHTTP)
		r := fgRun(t, prefix+fmt.Sprintf("curl -sS -o /dev/null -m 2 http://%s:%d/health", srv4, bePortHTTP), logEnv)
		marked, unmarked := counts(bePortHTTP)
		if r.code != 0 || marked == 0 || unmarked != 0 {
			t.Errorf("curl under mark.so: %d packets marked and %d not, want all of them (and some)\n%s", marked, unmarked, r)
		}
		if !regexp.MustCompile(`(?m)^marked pid=\d+ exe=\S*curl mark=0x7b07$`).MatchString(readLog()) {
			t.Errorf("mark.so's log does not show it marking curl's socket:\n%s", readLog())
		}
	})
	for _, rc := range readFGRecipes(t) {
		t.Run(rc.section, func(t *testing.T) {
			port := fgTarget(t, rc.command)
			line := fgSubstitute(rc.command, srv4, port)
			for _, c := range []struct {
				name   string
				prefix string
				marked bool
			}{
				{"l4xnat prefix", prefix, true},
				{"MARK alone", fmt.Sprintf("MARK=%#x ", fgMark), true},
				{"LD_PRELOAD alone", "LD_PRELOAD=" + so + " ", false},
				{"no prefix", "", false},
			} {
				t.Run(c.name, func(t *testing.T) {
					os.Remove(logPath)
					counts(port)
					r := fgRun(t, fgLine(t, c.prefix, line), logEnv)
					marked, unmarked := counts(port)
					if r.code != 0 {
						t.Fatalf("check failed\n%s", r)
					}
					if marked+unmarked == 0 {
						t.Fatalf("no packet to port %d counted: the counter proves nothing\n%s", port, r)
					}
					if got := unmarked == 0; c.marked && (!got || marked == 0) || !c.marked && marked != 0 {
						t.Errorf("to port %d: %d packets with mark %#x, %d without; want all marked: %v\n%s", port, marked, fgMark, unmarked, c.marked, r)
					}
					if l := readLog(); l != "" {
						t.Errorf("mark.so was loaded for a static check:\n%s", l)
					}
				})
			}
		})
	}
}

// TestFarmguardianSequential: Farmguardian checks a farm's backends one
// after another. With one backend dropping everything among healthy ones,
// a pass over the farm takes about one -t, not more, so a recipe's -t
// times the number of backends bounds the pass.
func TestFarmguardianSequential(t *testing.T) {
	startBackendSet(t)
	nftTable(t, "lbc-srv", "inet", "lbc_7b_fgseq", fmt.Sprintf(`table inet lbc_7b_fgseq {
	chain input {
		type filter hook input priority -5; policy accept;
		ip6 daddr %s meta l4proto { tcp, udp } drop
	}
}`, srv6))
	for _, rc := range readFGRecipes(t) {
		t.Run(rc.section, func(t *testing.T) {
			port, limit := fgTarget(t, rc.command), fgTimeout(t, rc.command)
			// backends: v4 up, v6 dropped, v4 up, v4 closed
			backends := []struct {
				host string
				port int
				up   bool
			}{{srv4, port, true}, {srv6, port, false}, {srv4, port, true}, {srv4, bePortClosed, false}}
			start := time.Now()
			for _, be := range backends {
				r := fgRun(t, fgLine(t, "", fgSubstitute(rc.command, be.host, be.port)))
				if (r.code == 0 && r.wall < rc.deadline(t)) != be.up {
					t.Errorf("backend %s:%d: up=%v, want %v\n%s", be.host, be.port, r.code == 0, be.up, r)
				}
			}
			if pass := time.Since(start); pass > limit+time.Second {
				t.Errorf("a pass over 4 backends, one silent, took %v; want under -t (%v) + 1 s", pass.Round(time.Millisecond), limit)
			}
		})
	}
}
