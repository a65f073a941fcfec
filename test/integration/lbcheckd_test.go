//go:build integration

package integration

// lbcheckd (issue 15) under real callers, in lbc-cli, against the backend
// set of the fault drill in lbc-srv (nginx, unbound, vsftpd, which the
// test stops and starts):
//
//   - Debian's Prometheus scrapes it with blackbox_exporter's relabel
//     configuration, as packaging/lbcheckd/prometheus.yml has it; its own
//     API must show probe_success 1, then 0 while the servers are stopped
//     (the scrape itself still up), then 1 again; a target outside allow
//     and an unknown module fail the scrape (up 0, no probe_success).
//     It loads the shipped alert rules (packaging/lbcheckd/alerts.yml,
//     every `for:` cut to 2s in its copy so the test takes seconds, not
//     minutes): ProbeDown fires for every checked target while the servers
//     are stopped, for none of the failed scrapes, and resolves when they
//     are back.
//   - Debian's HAProxy runs the shipped recipes haproxy-agent.cfg and
//     haproxy-httpchk.cfg, addresses and ports replaced by the lab's: the
//     servers go DOWN when the backend stops and UP when it is back; the
//     agent's view must be its own ("down" from the agent, L7STS), and a
//     server whose agent-send names no module keeps its state.

import (
	"encoding/json"
	"fmt"
	"net/url"
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

// goBinary is a main package of the module built once for the tests, as
// released (CGO_ENABLED=0), into the state directory.
type goBinary struct {
	pkg  string // ./cmd/lbcheckd
	once sync.Once
	path string
	err  error
}

var (
	lbcheckdBinary = &goBinary{pkg: "./cmd/lbcheckd"}
	delaydBinary   = &goBinary{pkg: "./internal/lab/delayd"}
)

// Path builds the binary the first time it is asked for.
func (b *goBinary) Path(t *testing.T) string {
	t.Helper()
	b.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			b.err = err
			return
		}
		name := filepath.Base(b.pkg)
		dir := filepath.Join(stateDir, name+"-bin")
		build := exec.Command("go", "build", "-trimpath", "-o", dir+"/", b.pkg)
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
			return
		}
		b.path = filepath.Join(dir, name)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// lbcheckdBin builds lbcheckd as released.
func lbcheckdBin(t *testing.T) string { return lbcheckdBinary.Path(t) }

const (
	lbdHTTP  = "127.0.0.1:9707"
	lbdAgent = "127.0.0.1:9708"
)

// startLbcheckd runs lbcheckd in lbc-cli with these modules until the test
// ends, and waits until it answers.
func startLbcheckd(t *testing.T, modules string) {
	t.Helper()
	startLbcheckdWith(t, "modules:\n"+modules, "debug")
}

// startLbcheckdWith runs lbcheckd in lbc-cli with the test's listeners and
// allow, and more (modules and other keys), logging at level.
func startLbcheckdWith(t *testing.T, more, level string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "lbcheckd.yml")
	text := fmt.Sprintf("listen: %s\nagent_listen: %s\nallow: [10.99.0.0/24, \"fd00:99::/64\"]\n%s", lbdHTTP, lbdAgent, more)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "lbcheckd.log"))
	if err != nil {
		t.Fatal(err)
	}
	// Through ip netns exec (which execs, keeping the pid), so that the
	// daemon reads lbc-cli's own /etc/hosts and /etc/resolv.conf.
	cmd := exec.Command("ip", "netns", "exec", nsClient, lbcheckdBin(t), "--config", conf, "--log-level", level)
	keepRunning(t, "lbcheckd", cmd, cmd.Start, logf, 40)
	waitAnswers(t, "lbcheckd", "http://"+lbdHTTP+"/metrics")
	return cmd
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// nsGet fetches a URL from inside lbc-cli.
func nsGet(u string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", nsClient, "curl", "-sf", "-m", "5", u).Output()
	return string(out), err
}

const lbdModules = `  http_health: [check_http_status, -t, "1", -u, /health]
  half_open: [check_tcp_half_open, -t, "1"]
  dns: [check_dns_answer, -t, "1", --name, www.example.org]
  ftp: [check_ftp_noop, -t, "1"]
  hello: [check_ssl_hello, -t, "1"]
`

// promTarget is one target of the test's Prometheus and what it must show.
type promTarget struct {
	job, module, target string
	scraped             bool // the scrape succeeds (a verdict); else up is 0
}

func TestLbcheckdPrometheus(t *testing.T) {
	b := startBackendSet(t)
	startLbcheckd(t, lbdModules)
	port := func(p int) string { return srv4 + ":" + strconv.Itoa(p) }
	targets := []promTarget{
		{"lb_http", "http_health", port(bePortHTTP), true},
		{"lb_http6", "http_health", "[" + srv6 + "]:" + strconv.Itoa(bePortHTTP), true},
		{"lb_half", "half_open", port(bePortHTTP), true},
		{"lb_dns", "dns", port(bePortDNS), true},
		{"lb_ftp", "ftp", port(bePortFTP), true},
		{"lb_hello", "hello", port(bePortTLS), true},
		{"lb_outside", "http_health", "192.0.2.1:80", false},
		{"lb_nomodule", "nope", port(bePortHTTP), false},
	}
	// The shipped recipe's relabelling, per job: only the module, the
	// targets, the interval and lbcheckd's address differ.
	recipe, err := os.ReadFile(packagingFile(t, "lbcheckd/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	relabel := string(recipe[strings.Index(string(recipe), "    relabel_configs:"):strings.Index(string(recipe), "  # lbcheckd's own metrics")])
	if !strings.Contains(relabel, "replacement: 127.0.0.1:9707") {
		t.Fatalf("the recipe's relabel_configs changed: %s", relabel)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	rules, err := os.ReadFile(packagingFile(t, "lbcheckd/alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	quick := regexp.MustCompile(`(?m)^(\s+for:) \S+$`)
	if len(quick.FindAll(rules, -1)) == 0 {
		t.Fatal("alerts.yml has no for: to shorten")
	}
	rulesPath := filepath.Join(dir, "alerts.yml")
	os.WriteFile(rulesPath, quick.ReplaceAll(rules, []byte("$1 2s")), 0o644)
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: ['" + rulesPath + "']\nscrape_configs:\n")
	for _, tg := range targets {
		fmt.Fprintf(&cfg, "  - job_name: %s\n    metrics_path: /probe\n    params:\n      module: [%s]\n    static_configs:\n      - targets: ['%s']\n%s",
			tg.job, tg.module, tg.target, relabel)
	}
	confPath := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(confPath, []byte(cfg.String()), 0o644)
	startPrometheus(t, dir, confPath)

	// query returns Prometheus' view of a metric, by job.
	query := func(q string) (map[string]string, error) {
		series, err := promQuery(q)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, s := range series {
			out[s.Metric["job"]] = s.Value
		}
		return out, nil
	}
	// wait until Prometheus reports, for each job, up and probe_success as
	// want says ("" for no series).
	wait := func(what string, want func(promTarget) (up, success string)) {
		t.Helper()
		var last string
		for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			up, err1 := query("up")
			succ, err2 := query("probe_success")
			if err1 != nil || err2 != nil {
				last = fmt.Sprint(err1, err2)
				continue
			}
			last = ""
			for _, tg := range targets {
				wu, ws := want(tg)
				if up[tg.job] != wu || succ[tg.job] != ws {
					last += fmt.Sprintf("\n  %s: up %q probe_success %q, want %q %q", tg.job, up[tg.job], succ[tg.job], wu, ws)
				}
			}
			if last == "" {
				t.Logf("Prometheus: %s", what)
				return
			}
		}
		t.Fatalf("Prometheus does not show %s within 40 s:%s", what, last)
	}
	healthy := func(tg promTarget) (string, string) {
		if !tg.scraped {
			return "0", ""
		}
		return "1", "1"
	}
	// waitAlerts waits until the jobs whose ProbeDown fires are those want
	// says.
	waitAlerts := func(what string, want func(promTarget) bool) {
		t.Helper()
		var last string
		for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			body, err := nsGet("http://127.0.0.1:9090/api/v1/alerts")
			var r struct {
				Data struct {
					Alerts []struct {
						Labels map[string]string
						State  string
					}
				}
			}
			if err == nil {
				err = json.Unmarshal([]byte(body), &r)
			}
			if err != nil {
				last = err.Error()
				continue
			}
			firing := map[string]bool{}
			for _, a := range r.Data.Alerts {
				if a.Labels["alertname"] == "ProbeDown" && a.State == "firing" {
					firing[a.Labels["job"]] = true
				}
			}
			last = ""
			for _, tg := range targets {
				if firing[tg.job] != want(tg) {
					last += fmt.Sprintf("\n  %s: ProbeDown firing %v, want %v", tg.job, firing[tg.job], want(tg))
				}
			}
			if last == "" {
				t.Logf("Prometheus' alerts: %s", what)
				return
			}
		}
		t.Fatalf("Prometheus' alerts do not show %s within 40 s:%s", what, last)
	}
	none := func(promTarget) bool { return false }

	wait("every backend up, the could-not-checks as failed scrapes", healthy)
	waitAlerts("no ProbeDown while all is up", none)
	b.stopAll(t)
	wait("every backend down: probe_success 0, the scrapes still up", func(tg promTarget) (string, string) {
		if !tg.scraped {
			return "0", ""
		}
		return "1", "0"
	})
	waitAlerts("ProbeDown fires for every checked target, none for a failed scrape", func(tg promTarget) bool { return tg.scraped })
	b.startAll(t)
	wait("every backend up again", healthy)
	waitAlerts("ProbeDown resolved", none)
}

// TestAlertRules: the shipped alert rules pass their promtool unit tests
// (test/packaging/testdata/alerts_test.yml); here promtool must be there.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed (Debian: apt-get install prometheus; scripts/deps.sh lists it)")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "test", "rules", filepath.Join(root, "test/packaging/testdata/alerts_test.yml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// hapRecipe is a shipped HAProxy recipe with the lab's addresses: web1 is
// the backend set's nginx, web2 a closed port; lbcheckd's ports as run here.
func hapRecipe(t *testing.T, name, dir string) string {
	t.Helper()
	src, err := os.ReadFile(packagingFile(t, "lbcheckd/"+name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for _, r := range [][2]string{
		{"10.0.0.5:80", srv4 + ":" + strconv.Itoa(bePortHTTP)}, {"10.0.0.5 80", srv4 + " " + strconv.Itoa(bePortHTTP)},
		{"10.0.0.6:80", srv4 + ":" + strconv.Itoa(bePortClosed)}, {"10.0.0.6 80", srv4 + " " + strconv.Itoa(bePortClosed)},
	} {
		// Every recipe names web1 and web2 as HOST:PORT (the agent's
		// recipe also as "HOST PORT" in agent-send).
		if !strings.Contains(s, r[0]) && strings.Contains(r[0], ":") {
			t.Fatalf("%s no longer holds %q: update the test", name, r[0])
		}
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	path := filepath.Join(dir, name)
	os.WriteFile(path, []byte(s), 0o644)
	return path
}

func TestLbcheckdHAProxy(t *testing.T) {
	b := startBackendSet(t)
	startLbcheckd(t, lbdModules)
	dir := t.TempDir()
	sock := filepath.Join(dir, "haproxy.sock")
	pidfile := filepath.Join(dir, "haproxy.pid")
	base := filepath.Join(dir, "base.cfg")
	// The test's part: daemon mode, the stats socket, timeouts, and a
	// server whose agent names no module (it must keep its state).
	os.WriteFile(base, []byte(fmt.Sprintf(`global
	daemon
	pidfile %s
	stats socket %s mode 600 level admin
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
	timeout check 3s
`, pidfile, sock)), 0o644)
	agent := hapRecipe(t, "haproxy-agent.cfg", dir)
	httpchk := hapRecipe(t, "haproxy-httpchk.cfg", dir)
	// Both recipes name their backend "app": the second one is renamed.
	src, _ := os.ReadFile(httpchk)
	os.WriteFile(httpchk, []byte(strings.Replace(string(src), "backend app", "backend app_http", 1)), 0o644)
	extra := filepath.Join(dir, "extra.cfg")
	os.WriteFile(extra, []byte(fmt.Sprintf(`backend keep
	default-server check inter 2s agent-check agent-addr 127.0.0.1 agent-port 9708 agent-inter 1s
	server nomodule %s:%d agent-send "nope %s %d\n"
`, srv4, bePortHTTP, srv4, bePortHTTP)), 0o644)
	args := []string{"netns", "exec", nsClient, "haproxy", "-f", base, "-f", agent, "-f", httpchk, "-f", extra}
	if out, err := exec.Command("ip", append(args, "-c")...).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("haproxy: %v\n%s", err, out)
	}
	t.Cleanup(func() { stopPidfile(t, pidfile) })
	waitPidfile(t, pidfile)

	web1, web2 := srv4+":"+strconv.Itoa(bePortHTTP), srv4+":"+strconv.Itoa(bePortClosed)
	state := func(up1 bool) func(map[string]hapStat) error {
		return func(rows map[string]hapStat) error {
			want := map[string]bool{"app/web1": up1, "app/web2": false, "app_http/" + web1: up1, "app_http/" + web2: false, "keep/nomodule": up1}
			for k, up := range want {
				r, ok := rows[k]
				if !ok {
					return fmt.Errorf("%s not in show stat", k)
				}
				if got := strings.HasPrefix(r.status, "UP"); got != up || (!up && !strings.HasPrefix(r.status, "DOWN")) {
					return fmt.Errorf("%s is %s %s", k, r.status, r.check)
				}
			}
			return nil
		}
	}
	waitStats(t, sock, "web1 UP, web2 DOWN through lbcheckd", 30*time.Second, state(true))
	if a := agentStatus(t, sock, "app", "web2"); a != "L7STS" {
		t.Errorf("app/web2's agent status %q, want L7STS: the agent said down", a)
	}
	if a := agentStatus(t, sock, "keep", "nomodule"); a == "L7STS" {
		t.Errorf("keep/nomodule's agent status %q: a could-not-check read as down", a)
	}
	b.stopAll(t)
	waitStats(t, sock, "web1 DOWN with the backend stopped", 30*time.Second, state(false))
	b.startAll(t)
	waitStats(t, sock, "web1 UP again", 30*time.Second, state(true))
}

// agentStatus is a server's agent_status column of show stat.
func agentStatus(t *testing.T, sock, backend, server string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "echo 'show stat' | socat -t 2 - UNIX-CONNECT:"+sock).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	cols := map[string]int{}
	for i, c := range strings.Split(strings.TrimPrefix(lines[0], "# "), ",") {
		cols[c] = i
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) > cols["agent_status"] && f[0] == backend && f[1] == server {
			return f[cols["agent_status"]]
		}
	}
	return ""
}

// keepRunning starts cmd (start: nsStart into a namespace, or cmd.Start),
// its output to logf, and ends it when the test ends: SIGINT, SIGKILL 10 s
// later. When the test failed, the last lines of its log are shown.
func keepRunning(t *testing.T, name string, cmd *exec.Cmd, start func() error, logf *os.File, lines int) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s's log:\n%s", name, lastLines(string(b), lines))
		}
	})
}

// waitAnswers waits, at most 5 s, until what name serves at url answers.
func waitAnswers(t *testing.T, name, url string) {
	t.Helper()
	for i := 0; ; i++ {
		if _, err := nsGet(url); err == nil {
			return
		}
		if i == 50 {
			t.Fatalf("%s does not answer on %s", name, url)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startPrometheus runs Debian's Prometheus on conf in lbc-cli, on
// 127.0.0.1:9090, until the test ends.
func startPrometheus(t *testing.T, dir, conf string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	prom := exec.Command("prometheus", "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:9090")
	keepRunning(t, "prometheus", prom, func() error { return nsStart(prom, nsClient) }, logf, 30)
}

// promSeries is one series of an instant query's answer.
type promSeries struct {
	Metric map[string]string
	Value  string
}

// promQuery asks the test's Prometheus an instant query.
func promQuery(q string) ([]promSeries, error) {
	body, err := nsGet("http://127.0.0.1:9090/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, fmt.Errorf("%v: %s", err, body)
	}
	out := make([]promSeries, len(r.Data.Result))
	for i, s := range r.Data.Result {
		out[i] = promSeries{s.Metric, fmt.Sprint(s.Value[1])}
	}
	return out, nil
}
