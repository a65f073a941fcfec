//go:build integration

package integration

// keepalived (Debian's) with the recipes in packaging/keepalived:
// vrrp_script.conf is included as it is into a VRRP instance in lbc-cli,
// tracking HAProxy's monitor-uri on this host; misc_check.conf's commands
// are run as keepalived would, and their exit codes read by misc_dynamic's
// rule (MISC_CHECK itself needs IPVS, which these machines lack).

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The plugin directory the recipes name. keepalived runs with the built
// binaries bind-mounted over it, in the mount namespace `ip netns exec`
// makes for it alone: the host's directory is never touched.
const packagePluginDir = "/usr/lib/nagios/plugins"

const (
	kaLink = "lbc7a-k0" // the instance's interface, one end of a veth pair in lbc-cli
	kaPeer = "lbc7a-k1"
	kaVIP  = "10.77.0.77"
	// the recipe's vrrp_script checks HAProxy's monitor-uri here
	kaMonitorPort = "9080"
)

// monitorHAProxy runs a HAProxy in lbc-cli whose monitor-uri answers on
// 127.0.0.1:9080; start and stop it at will.
type monitorHAProxy struct {
	t        *testing.T
	cfg, pid string
}

func newMonitorHAProxy(t *testing.T, dir string) *monitorHAProxy {
	m := &monitorHAProxy{t: t, cfg: filepath.Join(dir, "monitor.cfg"), pid: filepath.Join(dir, "monitor.pid")}
	err := os.WriteFile(m.cfg, []byte(fmt.Sprintf(`global
	daemon
	pidfile %s
defaults
	mode http
	timeout connect 1s
	timeout client 5s
	timeout server 5s
frontend monitor
	bind 127.0.0.1:%s
	monitor-uri /haproxy-health
`, m.pid, kaMonitorPort)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.stop)
	return m
}

func (m *monitorHAProxy) start() {
	m.t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", nsClient, "haproxy", "-f", m.cfg).CombinedOutput(); err != nil {
		m.t.Fatalf("monitor haproxy: %v\n%s", err, out)
	}
	waitPidfile(m.t, m.pid)
}

func (m *monitorHAProxy) stop() { stopPidfile(m.t, m.pid) }

// vrrpStates reads keepalived's notify_fifo: one line per transition,
// `INSTANCE "VI_7A" MASTER 150`.
type vrrpStates struct {
	mu    sync.Mutex
	lines []string
}

var fifoLine = regexp.MustCompile(`^INSTANCE "VI_7A" (\w+) \d+$`)

func (v *vrrpStates) read(f *os.File) {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v.mu.Lock()
		v.lines = append(v.lines, sc.Text())
		v.mu.Unlock()
	}
}

// states are the instance's states so far, in order.
func (v *vrrpStates) states() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, l := range v.lines {
		if m := fifoLine.FindStringSubmatch(l); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func hasVIP(t *testing.T) bool {
	t.Helper()
	out, err := exec.Command("ip", "-n", nsClient, "-4", "-o", "addr", "show", "dev", kaLink).CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr show %s: %v: %s", kaLink, err, out)
	}
	return strings.Contains(string(out), " "+kaVIP+"/32 ")
}

func TestKeepalivedVRRPScript(t *testing.T) {
	bins := pluginDir(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)

	// The mount point must exist; the lbcheck package creates it, and so
	// does monitoring-plugins. Made here (and removed) only when missing.
	if _, err := os.Stat(packagePluginDir); os.IsNotExist(err) {
		if err := os.MkdirAll(packagePluginDir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(packagePluginDir) })
	}

	// An interface of our own for the instance, with an address for its
	// adverts: they stay on this veth pair inside lbc-cli.
	for _, args := range [][]string{
		{"link", "add", kaLink, "type", "veth", "peer", "name", kaPeer},
		{"addr", "add", "10.77.0.1/24", "dev", kaLink},
		{"link", "set", kaLink, "up"},
		{"link", "set", kaPeer, "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", nsClient}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "-n", nsClient, "link", "del", kaLink).Run() })

	mon := newMonitorHAProxy(t, dir)
	mon.start()

	fifo := filepath.Join(dir, "notify.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// read-write, so that opening never blocks and keepalived closing its
	// end is no end of file
	ff, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var vs vrrpStates
	go vs.read(ff)
	t.Cleanup(func() { ff.Close() })

	conf := filepath.Join(dir, "keepalived.conf")
	err = os.WriteFile(conf, []byte(fmt.Sprintf(`# the test's part: notifications, and an instance on its own interface
global_defs {
	router_id lbc7a
	notify_fifo %s
}

include %s

vrrp_instance VI_7A {
	state BACKUP
	interface %s
	virtual_router_id 77
	priority 150
	advert_int 1
	virtual_ipaddress {
		%s/32
	}
	track_script {
		lbcheck_haproxy
	}
}
`, fifo, packagingFile(t, "keepalived/vrrp_script.conf"), kaLink, kaVIP)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "keepalived.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	readLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	// VRRP only, in the foreground, logging to the console; pid files in
	// our directory. `ip netns exec` gives sh a mount namespace of its own,
	// where the bind mount lives and dies with keepalived.
	ka := exec.Command("ip", "netns", "exec", nsClient, "sh", "-c",
		`mount --bind "$0" `+packagePluginDir+` && exec keepalived --vrrp --dont-fork --log-console --log-detail --no-syslog -f "$1" -p "$2" -r "$3"`,
		bins, conf, filepath.Join(dir, "keepalived.pid"), filepath.Join(dir, "vrrp.pid"))
	ka.Stdout, ka.Stderr = logf, logf
	if err := ka.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- ka.Wait() }()
	t.Cleanup(func() {
		ka.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("keepalived did not stop on SIGTERM")
			ka.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("keepalived log:\n%s", readLog())
		}
	})

	// waitState waits for the instance to reach state, with the VIP on
	// the interface exactly when MASTER.
	waitState := func(state string, limit time.Duration) {
		t.Helper()
		start := time.Now()
		for {
			select {
			case err := <-exited:
				t.Fatalf("keepalived exited: %v\n%s", err, readLog())
			default:
			}
			s := vs.states()
			if len(s) > 0 && s[len(s)-1] == state && hasVIP(t) == (state == "MASTER") {
				t.Logf("%s after %v (states so far %v)", state, time.Since(start).Round(100*time.Millisecond), s)
				return
			}
			if time.Since(start) > limit {
				t.Fatalf("not %s within %v: states %v, VIP present %v", state, limit, s, hasVIP(t))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// BACKUP first, MASTER once no advert came (3 adverts + skew).
	waitState("MASTER", 15*time.Second)
	mon.stop()
	// fall 2 at interval 1: FAULT within a few seconds
	waitState("FAULT", 10*time.Second)
	mon.start()
	// rise 2, then BACKUP, then MASTER again
	waitState("MASTER", 15*time.Second)

	if s := strings.Join(vs.states(), " "); !regexp.MustCompile(`MASTER( BACKUP)? FAULT BACKUP MASTER$`).MatchString(s) {
		t.Errorf("transitions %q, want MASTER, FAULT, BACKUP, MASTER", s)
	}
	// The recipe's security settings held: keepalived neither refused the
	// script nor fell back to root. (It does log that its default user,
	// keepalived_script, does not exist, before it reads script_user.)
	log := readLog()
	for _, bad := range []string{"SECURITY VIOLATION", "Disabling track script", "is not executable", "WARNING - default user"} {
		if strings.Contains(log, bad) {
			t.Errorf("keepalived log says %q:\n%s", bad, log)
		}
	}
	if !strings.Contains(log, "Script `lbcheck_haproxy` now returning 2") {
		t.Errorf("keepalived log lacks the script's CRITICAL exit (2):\n%s", log)
	}
}

// miscCheck is one MISC_CHECK block of misc_check.conf.
type miscCheck struct {
	path    []string // misc_path, split as keepalived splits it
	timeout float64
	dynamic bool
}

func parseMiscChecks(t *testing.T, file string) []miscCheck {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []miscCheck
	var cur *miscCheck
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case f[0] == "MISC_CHECK":
			out = append(out, miscCheck{})
			cur = &out[len(out)-1]
		case cur != nil && f[0] == "misc_path":
			q := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "misc_path"))
			cur.path = strings.Fields(strings.Trim(q, `"`))
		case cur != nil && f[0] == "misc_timeout" && len(f) > 1:
			cur.timeout, _ = strconv.ParseFloat(f[1], 64)
		case cur != nil && f[0] == "misc_dynamic":
			cur.dynamic = true
		case f[0] == "}":
		}
	}
	return out
}

// miscDynamicUp is keepalived's reading of a MISC_CHECK exit code under
// misc_dynamic: 0 up, 1 down, 2..255 up with weight code-2.
func miscDynamicUp(code int) bool { return code != 1 }

// TestKeepalivedMiscCheckRecipe runs every misc_path of misc_check.conf as
// keepalived would (argv as written, from lbc-cli), with the address and
// port swapped for a healthy and a broken lab server, and reads the exit
// code as misc_dynamic does: the healthy one must read up, the broken one
// down. Without --exit-style binary the broken one would read up: shown too.
func TestKeepalivedMiscCheckRecipe(t *testing.T) {
	bins := pluginDir(t)
	exampleDNS(t)
	checks := parseMiscChecks(t, packagingFile(t, "keepalived/misc_check.conf"))
	// a healthy and a broken target per binary
	targets := map[string][2][]string{
		"check_http_status":   {{srv4, "80"}, {srv4, "443"}}, // 200 from nginx; 400 on its TLS port
		"check_tcp_half_open": {{srv4, "80"}, {srv4, "84"}},
		"check_ssl_hello":     {{srv4, "443"}, {srv4, "80"}},
		"check_dns_answer":    {{srv4, exampleDNSPort}, {srv4, "53"}}, // example.org: ours answers, the lab's REFUSES
		"check_ftp_noop":      {{srv4, "21"}, {srv4, "84"}},
	}
	seen := map[string]bool{}
	for _, c := range checks {
		if len(c.path) < 3 {
			t.Fatalf("misc_path %q: want BINARY [OPTIONS] HOST PORT", c.path)
		}
		name := filepath.Base(c.path[0])
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			if dir := filepath.Dir(c.path[0]); dir != packagePluginDir {
				t.Errorf("misc_path runs %s, want the package's %s", c.path[0], packagePluginDir)
			}
			opts := c.path[1 : len(c.path)-2]
			if !c.dynamic {
				t.Errorf("MISC_CHECK for %s lacks misc_dynamic", name)
			}
			if !strings.Contains(strings.Join(opts, " "), "--exit-style binary") {
				t.Fatalf("misc_dynamic without --exit-style binary: %q", c.path)
			}
			for i, o := range opts {
				if o == "-t" && i+1 < len(opts) {
					if d, _ := strconv.ParseFloat(opts[i+1], 64); d <= 0 || d >= c.timeout {
						t.Errorf("-t %s is not under misc_timeout %v", opts[i+1], c.timeout)
					}
				}
			}
			tg, ok := targets[name]
			if !ok {
				t.Fatalf("no lab target for %s", name)
			}
			bin := filepath.Join(bins, name)
			args := func(o []string, hp []string) []string { return append(append([]string{}, o...), hp...) }
			if r := run(t, bin, args(opts, tg[0])...); r.code != 0 || !miscDynamicUp(r.code) {
				t.Errorf("healthy %v: exit %d, want 0\n%s", tg[0], r.code, r)
			}
			if r := run(t, bin, args(opts, tg[1])...); r.code != 1 || miscDynamicUp(r.code) {
				t.Errorf("broken %v: exit %d, want 1 (down under misc_dynamic)\n%s", tg[1], r.code, r)
			}
			var nagios []string
			for i := 0; i < len(opts); i++ {
				if opts[i] == "--exit-style" {
					i++
					continue
				}
				nagios = append(nagios, opts[i])
			}
			if r := run(t, bin, args(nagios, tg[1])...); r.code != exitCritical || !miscDynamicUp(r.code) {
				t.Errorf("broken %v in Nagios style: exit %d, want 2 (which misc_dynamic reads as up)\n%s", tg[1], r.code, r)
			}
		})
	}
	for name := range targets {
		if !seen[name] {
			t.Errorf("misc_check.conf has no MISC_CHECK for %s", name)
		}
	}
}
