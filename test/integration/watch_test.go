//go:build integration

package integration

// lbcheckd keeping watch (issue 21) under real callers, in lbc-cli:
//
//   - Debian's HAProxy 2.6 asks a watched module with agent_weight, fall 2
//     and rise 2 over agent-check. HAProxy's own check goes to lbcheckd's
//     port (always up), so only the agent can take a server out. A
//     backend stopped must go DOWN within agent-inter x fall + every, and
//     come back UP; a backend slowed between the module's -w and -c
//     (internal/lab/delayd: this kernel has no netem) must get a weight
//     below 100% in `show servers state`, and 100% again once fast.
//   - Debian's Prometheus scrapes /watches: one scrape for the fleet, a
//     series per watched target, up and down as its own API reports.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The slow backend's port in lbc-srv (beside the backend set's 91xx).
const bePortSlow = 9181

// startDelayd runs the lab's slow backend in lbc-srv on srv4:bePortSlow
// until the test ends; its delay is set with setDelay.
func startDelayd(t *testing.T) {
	t.Helper()
	cmd := exec.Command(delaydBinary.Path(t), "-listen", net.JoinHostPort(srv4, strconv.Itoa(bePortSlow)))
	if err := nsStart(cmd, nsServer); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	for i := 0; ; i++ {
		if _, err := nsGet(delayURL("")); err == nil {
			return
		}
		if i == 50 {
			t.Fatal("delayd does not answer")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func delayURL(set string) string {
	u := fmt.Sprintf("http://%s:%d/_lab/delay", srv4, bePortSlow)
	if set != "" {
		u += "?set=" + set
	}
	return u
}

func setDelay(t *testing.T, d string) {
	t.Helper()
	if out, err := nsGet(delayURL(d)); err != nil {
		t.Fatalf("set delayd's delay to %s: %v %s", d, err, out)
	}
}

// The watched module of these tests: answers within -w (0.2 s) are OK,
// past -c (0.8 s) CRITICAL; watched every second, fall 2, rise 2.
const (
	watchEvery  = time.Second
	watchFall   = 2
	agentInter  = time.Second
	watchModule = `  web:
    check: [check_http_status, -t, "1", -u, /health, -w, "0.2", -c, "0.8"]
    every: 1s
    agent_weight: true
    fall: 2
    rise: 2
`
)

// serverState is one row of HAProxy's `show servers state`, by column name.
type serverState map[string]string

// serversState reads `show servers state` from the stats socket, by
// "backend/server".
func serversState(sock string) (map[string]serverState, error) {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show servers state\n")); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(c)
	var cols []string
	rows := map[string]serverState{}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0 || f[0] == "1": // the format's version line
		case f[0] == "#":
			cols = f[1:]
		case cols != nil && len(f) >= len(cols):
			r := serverState{}
			for i, name := range cols {
				r[name] = f[i]
			}
			rows[r["be_name"]+"/"+r["srv_name"]] = r
		}
	}
	if cols == nil {
		return nil, fmt.Errorf("show servers state: no header line")
	}
	return rows, sc.Err()
}

func TestLbcheckdWatchHAProxy(t *testing.T) {
	b := startBackendSet(t)
	startDelayd(t)
	startLbcheckd(t, watchModule)
	dir := t.TempDir()
	sock := filepath.Join(dir, "haproxy.sock")
	pidfile := filepath.Join(dir, "haproxy.pid")
	cfg := filepath.Join(dir, "haproxy.cfg")
	// weight 100: the agent's percentage is then the weight itself.
	// roundrobin is dynamic: it applies any weight (static algorithms
	// only 0 or 100%).
	os.WriteFile(cfg, []byte(fmt.Sprintf(`global
	daemon
	pidfile %[1]s
	stats socket %[2]s mode 600 level admin
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
	timeout check 2s
backend watched
	balance roundrobin
	default-server weight 100 check addr 127.0.0.1 port 9707 inter 1s agent-check agent-addr 127.0.0.1 agent-port 9708 agent-inter %[3]ds
	server web %[4]s:%[5]d agent-send "web %[4]s %[5]d\n"
	server slow %[4]s:%[6]d agent-send "web %[4]s %[6]d\n"
`, pidfile, sock, int(agentInter/time.Second), srv4, bePortHTTP, bePortSlow)), 0o644)
	args := []string{"netns", "exec", nsClient, "haproxy", "-f", cfg}
	if out, err := exec.Command("ip", append(args, "-c")...).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("haproxy: %v\n%s", err, out)
	}
	t.Cleanup(func() { stopPidfile(t, pidfile) })
	waitPidfile(t, pidfile)

	// wait polls the servers' state every 100 ms until ok accepts it, and
	// returns how long that took.
	wait := func(what string, limit time.Duration, ok func(map[string]serverState) error) time.Duration {
		t.Helper()
		start := time.Now()
		var last error
		var rows map[string]serverState
		for time.Since(start) < limit {
			var err error
			if rows, err = serversState(sock); err != nil {
				last = err
			} else if last = ok(rows); last == nil {
				took := time.Since(start)
				t.Logf("%s after %v", what, took.Round(10*time.Millisecond))
				return took
			}
			time.Sleep(100 * time.Millisecond)
		}
		var s strings.Builder
		for k, r := range rows {
			fmt.Fprintf(&s, "  %s: op_state %s uweight %s\n", k, r["srv_op_state"], r["srv_uweight"])
		}
		body, _ := nsGet("http://" + lbdHTTP + "/watches")
		t.Fatalf("%s: not within %v: %v\n%s/watches:\n%s", what, limit, last, s.String(), body)
		return 0
	}
	// srv_op_state: 0 stopped (DOWN), 2 running (UP).
	server := func(name, op string, weight func(int) bool) func(map[string]serverState) error {
		return func(rows map[string]serverState) error {
			r, ok := rows["watched/"+name]
			if !ok {
				return fmt.Errorf("watched/%s not in show servers state", name)
			}
			w, _ := strconv.Atoi(r["srv_uweight"])
			if r["srv_op_state"] != op || (weight != nil && !weight(w)) {
				return fmt.Errorf("watched/%s: op_state %s uweight %s", name, r["srv_op_state"], r["srv_uweight"])
			}
			return nil
		}
	}
	full := func(w int) bool { return w == 100 }
	lowered := func(w int) bool { return w >= 10 && w < 100 }

	// HAProxy starts its servers UP: wait for the agent's own "up" (L7OK),
	// then for a few verdicts, so that fall counts from a watch that has
	// history (a watch's first verdict is answered as it is).
	for _, name := range []string{"web", "slow"} {
		wait(name+"'s agent answered", 30*time.Second, func(map[string]serverState) error {
			if a := agentStatus(t, sock, "watched", name); a != "L7OK" {
				return fmt.Errorf("agent status %q", a)
			}
			return nil
		})
	}
	time.Sleep(watchFall * watchEvery)
	wait("web UP at weight 100", 30*time.Second, server("web", "2", full))
	wait("slow UP at weight 100 while fast", 30*time.Second, server("slow", "2", full))

	t.Run("stopped backend goes DOWN within agent-inter x fall + every", func(t *testing.T) {
		bound := agentInter*watchFall + watchEvery
		start := time.Now()
		b.stopAll(t)
		wait("web DOWN", 30*time.Second, server("web", "0", nil))
		// Upper: 500 ms for what the bound leaves out (the probe's own
		// time, this poll's period). Lower: fall 2 needs a second
		// failing verdict, at least every after the first.
		took := time.Since(start)
		var why string
		if rows, err := hapStats(sock); err == nil {
			why = fmt.Sprintf("HAProxy's check %s %s, agent %s", rows["watched/web"].check, rows["watched/web"].code, agentStatus(t, sock, "watched", "web"))
		}
		t.Logf("web DOWN %v after its backend was stopped (%s)", took.Round(10*time.Millisecond), why)
		if took > bound+500*time.Millisecond {
			t.Errorf("web went DOWN %v after its backend stopped, more than agent-inter x fall + every = %v", took.Round(10*time.Millisecond), bound)
		}
		if low := watchEvery*(watchFall-1) - 100*time.Millisecond; took < low {
			t.Errorf("web went DOWN %v after its backend stopped: fall %d needs %d failing verdicts %v apart", took.Round(10*time.Millisecond), watchFall, watchFall, watchEvery)
		}
		b.startAll(t)
		wait("web UP again", 30*time.Second, server("web", "2", full))
	})

	t.Run("slowed backend gets a lower weight", func(t *testing.T) {
		// between -w 0.2 and -c 0.8: WARNING for its time only, so "up"
		// with about 100 - 90 x (0.5-0.2)/(0.8-0.2) = 55%
		setDelay(t, "500ms")
		wait("slow UP at a lowered weight", 30*time.Second, server("slow", "2", lowered))
		rows, err := serversState(sock)
		if err == nil {
			t.Logf("slow at 500 ms: uweight %s", rows["watched/slow"]["srv_uweight"])
		}
		setDelay(t, "0s")
		wait("slow back at weight 100", 30*time.Second, server("slow", "2", full))
	})
}

func TestLbcheckdWatchPrometheus(t *testing.T) {
	b := startBackendSet(t)
	up, closed := srv4+":"+strconv.Itoa(bePortHTTP), srv4+":"+strconv.Itoa(bePortClosed)
	startLbcheckd(t, fmt.Sprintf(`  web:
    check: [check_http_status, -t, "1", -u, /health]
    every: 1s
    targets: ["%s", "%s", "[%s]:%d"]
`, up, closed, srv6, bePortHTTP))
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	confPath := filepath.Join(dir, "prometheus.yml")
	// One job, one target: lbcheckd itself; the series carry module and
	// target. honor_labels is not needed: job and instance are Prometheus'.
	os.WriteFile(confPath, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: watches
    metrics_path: /watches
    static_configs:
      - targets: ['%s']
`, lbdHTTP)), 0o644)
	startPrometheus(t, dir, confPath)

	// query returns Prometheus' view of a metric of the watches job, by
	// its target label.
	query := func(q string) (map[string]string, error) {
		series, err := promQuery(q)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, s := range series {
			if s.Metric["module"] != "web" && s.Metric["job"] == "watches" && s.Metric["target"] != "" {
				return nil, fmt.Errorf("series without module web: %v", s.Metric)
			}
			out[s.Metric["target"]] = s.Value
		}
		return out, nil
	}
	v6 := "[" + srv6 + "]:" + strconv.Itoa(bePortHTTP)
	cases := []struct {
		name string
		want map[string]string // probe_success by target
		do   func()
	}{
		{"every backend as it is", map[string]string{up: "1", v6: "1", closed: "0"}, func() {}},
		{"backends stopped", map[string]string{up: "0", v6: "0", closed: "0"}, func() { b.stopAll(t) }},
		{"backends back", map[string]string{up: "1", v6: "1", closed: "0"}, func() { b.startAll(t) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.do()
			var last string
			for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
				scrape, err1 := query(`up{job="watches"}`)
				succ, err2 := query(`probe_success{job="watches"}`)
				if err1 != nil || err2 != nil {
					last = fmt.Sprint(err1, err2)
					continue
				}
				last = ""
				if scrape[""] != "1" {
					last = fmt.Sprintf("\n  the scrape of /watches: up %q", scrape[""])
				}
				for tg, want := range c.want {
					if succ[tg] != want {
						last += fmt.Sprintf("\n  %s: probe_success %q, want %q", tg, succ[tg], want)
					}
				}
				if len(succ) != len(c.want) {
					last += fmt.Sprintf("\n  %d series, want %d: %v", len(succ), len(c.want), succ)
				}
				if last == "" {
					t.Logf("Prometheus shows %s", c.name)
					checkWatchesJSON(t, c.want)
					return
				}
			}
			body, _ := nsGet("http://" + lbdHTTP + "/watches")
			t.Fatalf("Prometheus does not show %s within 40 s:%s\n/watches:\n%s", c.name, last, body)
		})
	}
}

// Bad watch keys, as the released binary meets them: one line naming the
// key and exit 1, at start and with --check-config, before anything
// listens; a huge targets_file neither crashes nor hangs it.
func TestLbcheckdWatchBadConfig(t *testing.T) {
	bin := lbcheckdBin(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.targets")
	os.WriteFile(junk, []byte("10.99.0.2:9180\nnot a target\n10.99.0.2:99999\n"), 0o644)
	dups := filepath.Join(dir, "dups.targets")
	os.WriteFile(dups, []byte("10.99.0.2:9180\n10.99.0.2:9180\n# a comment\n\n10.99.0.2:9181\n"), 0o644)
	million := filepath.Join(dir, "million.targets")
	f, err := os.Create(million)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range 1_000_000 {
		fmt.Fprintf(w, "10.%d.%d.%d:80\n", 99+i>>16, (i>>8)&255, i&255)
	}
	w.Flush()
	f.Close()
	module := func(keys string) string {
		return "listen: 127.0.0.1:0\nallow: [10.0.0.0/8]\nmodules:\n  web:\n    check: [check_http_status, -t, \"1\"]\n" + keys
	}
	for _, c := range []struct {
		// word: what the one line of a refusal must name ("" when the
		// configuration is taken); note: what the daemon must say of a
		// targets_file it takes in part. A targets file is never fatal,
		// as Prometheus' file_sd: it is read again on SIGHUP and when it
		// changes, and what it skips is said in one line a file.
		name, conf, word, note string
	}{
		{"every 0", module("    every: 0s\n"), "every", ""},
		{"every negative", module("    every: -1s\n"), "every", ""},
		{"every shorter than the deadline", module("    every: 500ms\n"), "every", ""},
		{"every not a duration", module("    every: often\n"), "every", ""},
		{"targets_file missing", module("    every: 2s\n    targets_file: " + filepath.Join(dir, "nowhere") + "\n"), "", "missing: no targets from it until it appears"},
		{"targets_file with junk lines", module("    every: 2s\n    targets_file: " + junk + "\n"), "", "1 targets; 2 junk lines skipped (line 2: "},
		{"targets_file with duplicates and comments", module("    every: 2s\n    targets_file: " + dups + "\n"), "", "2 targets; 1 duplicates skipped"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "lbcheckd.yml")
			os.WriteFile(conf, []byte(c.conf), 0o644)
			for _, args := range [][]string{{"--config", conf, "--check-config"}, {"--config", conf}} {
				code, out := runBounded(t, bin, 5*time.Second, args...)
				if c.word == "" {
					if code != 0 {
						t.Errorf("%v: exit %d, want 0: %s", args, code, out)
					}
					if c.note != "" && !strings.Contains(out, c.note) {
						t.Errorf("%v: says nothing of the targets_file (want %q): %s", args, c.note, out)
					}
					continue
				}
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], c.word) {
					t.Errorf("%v: exit %d, %d lines %q; want exit 1 and one line naming %s", args, code, len(lines), out, c.word)
				}
			}
		})
	}
	t.Run("targets_file of a million lines", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "lbcheckd.yml")
		os.WriteFile(conf, []byte(module("    every: 2s\n    targets_file: "+million+"\n")), 0o644)
		start := time.Now()
		code, out := runBounded(t, bin, 20*time.Second, "--config", conf, "--check-config")
		t.Logf("exit %d after %v: %s", code, time.Since(start).Round(time.Millisecond), lastLines(out, 2))
		// Over max_watches (100,000 by default): refused in one line, or
		// taken; never a crash or a hang.
		if code != 0 && code != 1 {
			t.Errorf("exit %d: %s", code, lastLines(out, 5))
		}
		if code == 1 && strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("refused in more than one line: %s", lastLines(out, 5))
		}
	})
}

// runBounded runs lbcheckd with args; one still running after limit is a
// daemon that took its configuration (code 0, stopped with SIGTERM).
func runBounded(t *testing.T, bin string, limit time.Duration, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			if !ee.Exited() {
				return -1, out.String() + "\n(killed by a signal)"
			}
			return ee.ExitCode(), out.String()
		}
		return 0, out.String()
	case <-time.After(limit):
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		// a started daemon: what it logged (a refusal would have ended it)
		return 0, out.String()
	}
}

// checkWatchesJSON asks /watches for JSON (Accept: application/json) and
// compares each watch's success with want, by target.
func checkWatchesJSON(t *testing.T, want map[string]string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", nsClient, "curl", "-sf", "-m", "5",
		"-H", "Accept: application/json", "http://"+lbdHTTP+"/watches").Output()
	if err != nil {
		t.Fatalf("/watches as JSON: %v", err)
	}
	var ws []struct {
		Module, Target string
		Success        bool
	}
	if err := json.Unmarshal(out, &ws); err != nil {
		t.Fatalf("/watches as JSON: %v: %s", err, out)
	}
	got := map[string]string{}
	for _, w := range ws {
		if w.Module != "web" {
			t.Errorf("/watches as JSON: module %q, want web", w.Module)
		}
		got[w.Target] = map[bool]string{true: "1", false: "0"}[w.Success]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("/watches as JSON: success by target %v, want %v\n%s", got, want, out)
	}
}
