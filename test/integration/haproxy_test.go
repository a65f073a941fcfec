//go:build integration

package integration

// HAProxy (Debian's) runs the five binaries as external checks, with the
// recipe shipped in packaging/haproxy: lbcheck.cfg (global keywords and one
// named defaults section per check) and the wrapper scripts, used as they
// are. HAProxy runs in lbc-cli in daemon mode (fds 0-2 closed, PATH empty,
// fixed argv); its own view, read from the stats socket, must show the
// healthy servers UP and the broken ones DOWN, and follow servers that an
// nft rule of ours cuts off and lets back.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	nsServer = "lbc-srv"
	// The recipe's check interval: HAProxy 2.6 ends an external check
	// still running after `inter` with SIGTERM (it does not apply
	// `timeout check` to them: measured, PROCTOUT after 2001 ms with
	// inter 2s and timeout check 3s).
	hapInter = 3 * time.Second
	// Our own DNS server for the recipe's zone (example.org), in lbc-srv.
	exampleDNSPort = "9053"
)

// packagingFile is a file of packaging/, as shipped.
func packagingFile(t *testing.T, rel string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "packaging", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// exampleDNS runs unbound in lbc-srv on port 9053, answering for
// example.org (the zone the recipes ask about) on both addresses, until
// the test ends.
func exampleDNS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "unbound.conf")
	pid := filepath.Join(dir, "unbound.pid")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`server:
	interface: %[1]s@%[3]s
	interface: %[2]s@%[3]s
	port: %[3]s
	do-ip6: yes
	username: ""
	chroot: ""
	directory: "%[4]s"
	pidfile: "%[5]s"
	logfile: "%[4]s/unbound.log"
	use-syslog: no
	module-config: "iterator"
	access-control: 10.99.0.0/24 allow
	access-control: fd00:99::/64 allow
	local-zone: "example.org." static
	local-data: "example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 1 3600 600 86400 300"
remote-control:
	control-enable: no
`, srv4, srv6, exampleDNSPort, dir, pid)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", nsServer, "unbound", "-c", conf).CombinedOutput(); err != nil {
		t.Fatalf("unbound for example.org: %v: %s", err, out)
	}
	t.Cleanup(func() { stopPidfile(t, pid) })
	waitPidfile(t, pid)
}

// waitPidfile waits until a daemon has written its pid file.
func waitPidfile(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s after 5 s", path)
		}
	}
}

// stopPidfile sends SIGTERM to the daemon in a pid file and waits until it
// is gone (SIGKILL after 5 s).
func stopPidfile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("pid %d (%s) still there 5 s after SIGTERM: killing it", pid, path)
			syscall.Kill(pid, syscall.SIGKILL)
			break
		}
	}
	os.Remove(path)
}

// hapServer is one server line and what HAProxy must think of it.
type hapServer struct {
	backend, name, addr string
	up                  bool   // UP, or DOWN
	check               string // check_status: PROCOK, PROCERR (non-zero exit), PROCTOUT (HAProxy's SIGTERM)
	flaps               bool   // cut off by the flap rule
}

// hapStat is one row of `show stat`.
type hapStat struct {
	status, check, code string
	duration            time.Duration
}

// hapStats reads `show stat` from the stats socket, by "backend/server".
func hapStats(sock string) (map[string]hapStat, error) {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show stat\n")); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(c)
	var cols map[string]int
	rows := map[string]hapStat{}
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "# "); ok {
			cols = map[string]int{}
			for i, name := range strings.Split(h, ",") {
				cols[name] = i
			}
			continue
		}
		f := strings.Split(line, ",")
		if cols == nil || len(f) < len(cols)-1 {
			continue
		}
		ms, _ := strconv.Atoi(f[cols["check_duration"]])
		rows[f[cols["pxname"]]+"/"+f[cols["svname"]]] = hapStat{
			status: f[cols["status"]], check: f[cols["check_status"]], code: f[cols["check_code"]],
			duration: time.Duration(ms) * time.Millisecond,
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cols == nil {
		return nil, errors.New("show stat: no header line")
	}
	return rows, nil
}

// waitStats polls the stats until ok accepts them, failing after limit
// with ok's last complaint and the whole table.
func waitStats(t *testing.T, sock, what string, limit time.Duration, ok func(map[string]hapStat) error) map[string]hapStat {
	t.Helper()
	start := time.Now()
	var last error
	var rows map[string]hapStat
	for time.Since(start) < limit {
		var err error
		if rows, err = hapStats(sock); err != nil {
			last = err
		} else if last = ok(rows); last == nil {
			t.Logf("%s after %v", what, time.Since(start).Round(100*time.Millisecond))
			return rows
		}
		time.Sleep(250 * time.Millisecond)
	}
	var b strings.Builder
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r := rows[k]
		fmt.Fprintf(&b, "  %-24s %-10s %-9s code=%s %v\n", k, r.status, r.check, r.code, r.duration)
	}
	t.Fatalf("%s: not within %v: %v\n%s", what, limit, last, b.String())
	return nil
}

// procWatch samples /proc for processes run from dir and records how long
// each lived: HAProxy's checks must never outlive its SIGTERM, nor
// HAProxy itself.
type procWatch struct {
	dir  string
	mu   sync.Mutex
	seen map[string][2]time.Time // "pid/starttime" -> first, last seen
	cmd  map[string]string
	stop chan struct{}
	done chan struct{}
}

func watchProcs(dir string) *procWatch {
	w := &procWatch{dir: dir + "/", seen: map[string][2]time.Time{}, cmd: map[string]string{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			w.sample()
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// running lists the processes alive now whose argv[0] is in dir.
func (w *procWatch) running() map[string]string {
	out := map[string]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.HasPrefix(string(cmdline), w.dir) {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 19 && fields[0] != "Z" {
			out[e.Name()+"/"+fields[19]] = strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
		}
	}
	return out
}

func (w *procWatch) sample() {
	now := time.Now()
	procs := w.running()
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, c := range procs {
		s, ok := w.seen[k]
		if !ok {
			s[0] = now
			w.cmd[k] = c
		}
		s[1] = now
		w.seen[k] = s
	}
}

// longest stops sampling and returns the longest-lived process of those
// last seen before until, and how many were seen in all.
func (w *procWatch) longest(until time.Time) (time.Duration, string, int) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	var max time.Duration
	var which string
	for k, s := range w.seen {
		if !s[1].Before(until) {
			continue // still running then
		}
		if d := s[1].Sub(s[0]); d > max {
			max, which = d, w.cmd[k]
		}
	}
	return max, which, len(w.seen)
}

func TestHAProxyExternalCheck(t *testing.T) {
	bins := pluginDir(t)
	exampleDNS(t)

	// HAProxy finds the binaries and the wrappers in one directory, as
	// when the wrappers are installed beside the plugins: the wrappers
	// are the shipped files, linked in, and take the binary from their own
	// directory (argv[0] is the absolute path HAProxy was given).
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	libexec := filepath.Join(dir, "libexec")
	if err := os.Mkdir(libexec, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"check_tcp_half_open", "check_http_status", "check_ssl_hello", "check_dns_answer", "check_ftp_noop"} {
		if err := os.Symlink(filepath.Join(bins, b), filepath.Join(libexec, b)); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []string{"lbcheck-http", "lbcheck-ssl-hello", "lbcheck-dns", "lbcheck-ftp"} {
		if err := os.Symlink(packagingFile(t, "haproxy/"+w), filepath.Join(libexec, w)); err != nil {
			t.Fatal(err)
		}
	}

	servers := []hapServer{
		// no wrapper: HAProxy runs check_tcp_half_open itself, as root
		// here, so it has its raw socket
		{"be_tcp", "up4", srv4 + ":80", true, "PROCOK", false},
		{"be_tcp", "flap6", "[" + srv6 + "]:80", true, "PROCOK", true},
		{"be_tcp", "closed", srv4 + ":84", false, "PROCERR", false},
		// silently dropped: the check's own -t is 5 s, longer than inter,
		// so HAProxy ends it with SIGTERM
		{"be_tcp", "filtered", srv4 + ":81", false, "PROCTOUT", false},

		{"be_http", "up4", srv4 + ":80", true, "PROCOK", false},
		{"be_http", "flap6", "[" + srv6 + "]:80", true, "PROCOK", true},
		{"be_http", "status400", srv4 + ":443", false, "PROCERR", false}, // plain HTTP to nginx's TLS port
		{"be_http", "refused", srv4 + ":84", false, "PROCERR", false},
		// accepts and never answers: the wrapper's -t 2 ends the check
		// before HAProxy's inter (3 s) would
		{"be_http", "silent", srv4 + ":85", false, "PROCERR", false},

		{"be_ssl", "up4", srv4 + ":443", true, "PROCOK", false},
		{"be_ssl", "flap6", "[" + srv6 + "]:443", true, "PROCOK", true},
		{"be_ssl", "clientcert", srv4 + ":4433", true, "PROCOK", false}, // s_server demanding a client certificate
		{"be_ssl", "not_tls", srv4 + ":80", false, "PROCERR", false},

		{"be_dns", "up4", srv4 + ":" + exampleDNSPort, true, "PROCOK", false},
		{"be_dns", "flap6", "[" + srv6 + "]:" + exampleDNSPort, true, "PROCOK", true},
		{"be_dns", "refused", srv4 + ":53", false, "PROCERR", false}, // the lab's unbound REFUSES example.org

		{"be_ftp", "vsftpd", srv4 + ":21", true, "PROCOK", false},
		{"be_ftp", "pyftpdlib", srv4 + ":2121", true, "PROCOK", false},
		{"be_ftp", "flap6", "[" + srv6 + "]:21", true, "PROCOK", true},
		{"be_ftp", "closed", srv4 + ":84", false, "PROCERR", false},
	}
	from := map[string]string{"be_tcp": "lbcheck-tcp", "be_http": "lbcheck-http", "be_ssl": "lbcheck-ssl-hello",
		"be_dns": "lbcheck-dns", "be_ftp": "lbcheck-ftp"}

	sock := filepath.Join(dir, "haproxy.sock")
	pidfile := filepath.Join(dir, "haproxy.pid")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "# the test's part: daemon mode (fds 0-2 closed), stats socket, servers\nglobal\n\tdaemon\n\tpidfile %s\n\tstats socket %s mode 600 level admin\n", pidfile, sock)
	last := ""
	for _, s := range servers {
		if s.backend != last {
			fmt.Fprintf(&cfg, "\nbackend %s from %s\n", s.backend, from[s.backend])
			last = s.backend
		}
		fmt.Fprintf(&cfg, "\tserver %s %s check\n", s.name, s.addr)
	}
	testCfg := filepath.Join(dir, "servers.cfg")
	if err := os.WriteFile(testCfg, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	recipe := packagingFile(t, "haproxy/lbcheck.cfg")
	haproxy := func(extra ...string) *exec.Cmd {
		cmd := exec.Command("ip", append([]string{"netns", "exec", nsClient, "haproxy", "-f", recipe, "-f", testCfg}, extra...)...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LBCHECK_PLUGIN_DIR=" + libexec, "LBCHECK_WRAPPER_DIR=" + libexec}
		return cmd
	}
	if out, err := haproxy("-c").CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}

	procs := watchProcs(libexec)
	if out, err := haproxy().CombinedOutput(); err != nil {
		t.Fatalf("haproxy: %v\n%s", err, out)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopPidfile(t, pidfile)
		}
	}
	t.Cleanup(stop)
	waitPidfile(t, pidfile)

	// Servers start UP before their first check: only a check_status
	// proves a check ran.
	rows := waitStats(t, sock, "every server UP or DOWN as it should be", 30*time.Second, func(rows map[string]hapStat) error {
		for _, s := range servers {
			r, ok := rows[s.backend+"/"+s.name]
			want := map[bool]string{true: "UP", false: "DOWN"}[s.up]
			switch {
			case !ok:
				return fmt.Errorf("%s/%s not in show stat", s.backend, s.name)
			case r.status != want || r.check != s.check:
				return fmt.Errorf("%s/%s is %s %s, want %s %s", s.backend, s.name, r.status, r.check, want, s.check)
			}
		}
		return nil
	})
	for _, s := range servers {
		r := rows[s.backend+"/"+s.name]
		switch {
		case s.check == "PROCERR" && r.code != "2":
			// a DOWN server failed the check, not the run: our CRITICAL
			t.Errorf("%s/%s: check exit code %q, want 2 (CRITICAL)", s.backend, s.name, r.code)
		case s.name == "silent" && r.duration >= hapInter:
			t.Errorf("be_http/silent: check took %v: the wrapper's -t 2 should end it before HAProxy's %v", r.duration, hapInter)
		case s.check == "PROCTOUT" && r.duration < hapInter-100*time.Millisecond:
			t.Errorf("%s/%s: timed out after %v, before HAProxy's %v", s.backend, s.name, r.duration, hapInter)
		}
	}

	// Cut lbc-cli's IPv6 off from the servers' ports: the flap6 servers
	// must go DOWN and the others keep their state; then back UP.
	nftIn(t, nsServer, `table inet lbc_7a_flap {
	chain input {
		type filter hook input priority -10; policy accept;
		ip6 saddr `+cli6+` meta l4proto { tcp, udp } th dport { 21, 80, 443, `+exampleDNSPort+` } drop
	}
}`)
	removeFlap := func() {
		exec.Command("ip", "netns", "exec", nsServer, "nft", "delete", "table", "inet", "lbc_7a_flap").Run()
	}
	t.Cleanup(removeFlap)
	followed := func(down bool) func(map[string]hapStat) error {
		return func(rows map[string]hapStat) error {
			for _, s := range servers {
				r := rows[s.backend+"/"+s.name]
				wantUp := s.up && !(s.flaps && down)
				if got := r.status == "UP"; got != wantUp {
					return fmt.Errorf("%s/%s is %s %s", s.backend, s.name, r.status, r.check)
				}
				if s.flaps && !down && r.check != "PROCOK" {
					return fmt.Errorf("%s/%s is UP but its last check was %s", s.backend, s.name, r.check)
				}
			}
			return nil
		}
	}
	// fall 2 and rise 2 at inter 3 s: about 6 s each way, plus a check
	// that was already running
	waitStats(t, sock, "flap6 servers DOWN", 20*time.Second, followed(true))
	removeFlap()
	waitStats(t, sock, "flap6 servers UP again", 20*time.Second, followed(false))

	stoppedAt := time.Now()
	stop()
	// HAProxy does not end the checks it leaves running when it stops:
	// they end by their own deadline (the half-open check's -t is 5 s).
	// And no check that ended while HAProxy ran outlived its SIGTERM at
	// inter (below); one it left running may live its whole -t.
	deadline := time.Now().Add(5500 * time.Millisecond)
	for len(procs.running()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := procs.running(); len(left) > 0 {
		t.Errorf("checks still running after HAProxy stopped: %v", left)
	}
	longest, which, n := procs.longest(stoppedAt)
	t.Logf("%d check processes seen; the longest lived %v: %s", n, longest.Round(10*time.Millisecond), which)
	// Most checks end within milliseconds, between two samples; the ones
	// on the filtered port live until HAProxy's SIGTERM and are always seen.
	if n < 2 || !strings.Contains(which, srv4+" 81") && !strings.Contains(which, srv6) {
		t.Errorf("%d check processes seen, the longest %q: the watch on %s did not see the hanging checks", n, which, libexec)
	}
	if longest > hapInter+1500*time.Millisecond {
		t.Errorf("a check lived %v, past HAProxy's SIGTERM at %v: %s", longest, hapInter, which)
	}
}
