//go:build integration

package integration

// lbcheckd when its own resolver fails (issue 26): unbound in lbc-cli, on
// 127.0.0.1:53 where lbc-cli's resolv.conf points, answers REFUSED for
// one zone, NXDOMAIN for another, SERVFAIL for a zone whose only server
// (the lab's named, authoritative for other zones) refuses it, and nothing
// in time for one whose server's
// packets are dropped (nft, port 81 of lbc-srv). A resolver that gives no
// answer is could-not-check on every front; NXDOMAIN stays down.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startResolver runs unbound in lbc-cli on 127.0.0.1:53 until the test
// ends.
func startResolver(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "unbound.conf")
	text := fmt.Sprintf(`server:
	interface: 127.0.0.1
	port: 53
	do-ip6: no
	username: ""
	chroot: ""
	directory: "%[1]s"
	pidfile: "%[1]s/unbound.pid"
	logfile: "%[1]s/unbound.log"
	use-syslog: no
	module-config: "iterator"
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	# test. is one of unbound's default local zones (NXDOMAIN for all):
	# the stub zones under it must be asked.
	local-zone: "test." nodefault
	local-zone: "ok.test." static
	local-data: "www.ok.test. 60 IN A %[2]s"
	local-zone: "refused.test." always_refuse
	local-zone: "nx.test." always_nxdomain
stub-zone:
	name: "servfail.test."
	stub-addr: %[2]s@5301
stub-zone:
	name: "silent.test."
	stub-addr: %[2]s@81
remote-control:
	control-enable: no
`, dir, srv4)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unbound", "-d", "-c", conf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := nsStart(cmd, nsClient); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "unbound.log"))
			t.Logf("unbound:\n%s%s", out.String(), lastLines(string(b), 20))
		}
	})
	for i := 0; ; i++ {
		if o, err := exec.Command("ip", "netns", "exec", nsClient, "dig", "+short", "+time=1", "+tries=1", "@127.0.0.1", "www.ok.test").Output(); err == nil && strings.TrimSpace(string(o)) == srv4 {
			return
		}
		if i == 50 {
			t.Fatal("unbound in lbc-cli does not answer")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestLbcheckdResolverFailure(t *testing.T) {
	startResolver(t)
	startLbcheckdWith(t, "modules:\n  http: [check_http_status, -t, \"2\"]\n", "debug")
	tests := []struct {
		name   string
		host   string
		dig    string // what dig says of the name: the resolver's part
		status int    // /check
		agent  string // the agent's line; "" for none
	}{
		{"resolves", "www.ok.test", "status: NOERROR", 200, "up\n"},
		{"NXDOMAIN stays down", "www.nx.test", "status: NXDOMAIN", 503, "down #CRITICAL - resolve www.nx.test: no such host\n"},
		{"REFUSED", "www.refused.test", "status: REFUSED", 500, ""},
		{"SERVFAIL", "www.servfail.test", "status: SERVFAIL", 500, ""},
		{"no answer in time", "www.silent.test", "timed out", 504, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dig, _ := exec.Command("ip", "netns", "exec", nsClient, "dig", "+time=2", "+tries=1", "@127.0.0.1", tt.host).CombinedOutput()
			if !strings.Contains(string(dig), tt.dig) {
				t.Fatalf("the lab's resolver: dig says\n%s\nwant %q", dig, tt.dig)
			}
			status, body := nsCheck(t, "/check?module=http&target="+tt.host+":80")
			if status != tt.status {
				t.Errorf("/check: %d %q, want %d", status, body, tt.status)
			}
			if line := nsAgent(t, "http "+tt.host+" 80\n"); line != tt.agent {
				t.Errorf("agent: %q, want %q", line, tt.agent)
			}
		})
	}
	body, err := nsGet("http://" + lbdHTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("refusals:\n%s", grepMetric(body, "lbcheckd_refused_total{reason=\"resolver"))
	for _, want := range []string{`lbcheckd_refused_total{reason="resolver_failed"} 4`, `lbcheckd_refused_total{reason="resolver_timeout"} 2`} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// nsCheck asks lbcheckd's /check from inside lbc-cli.
func nsCheck(t *testing.T, path string) (int, string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", nsClient, "curl", "-s", "-m", "5", "-w", "\n%{http_code}", "http://"+lbdHTTP+path).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", path, err)
	}
	s := strings.TrimSpace(string(out))
	i := strings.LastIndex(s, "\n")
	var code int
	fmt.Sscan(s[i+1:], &code)
	return code, s[:max(i, 0)]
}

// nsAgent asks lbcheckd's agent from inside lbc-cli, as HAProxy does.
func nsAgent(t *testing.T, line string) string {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", nsClient, "socat", "-t", "5", "-T", "5", "-", "TCP:"+lbdAgent)
	cmd.Stdin = strings.NewReader(line)
	out, err := cmd.Output()
	if err != nil {
		t.Logf("socat: %v", err)
	}
	return string(out)
}
