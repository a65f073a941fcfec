package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
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

	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/lab"
	"github.com/lbcheck/lbcheck/internal/lab/netns"
	"github.com/lbcheck/lbcheck/internal/lab/proctest"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
)

// The tests run in a network namespace of their own (raw sockets for the
// half-open check: internal/lab/netns), against the in-process labs.
var (
	webLab *lab.Lab
	dnsLab *lab.DNS
	ftpLab *lab.FTP
	tlsLab *lab.TLSLab
)

func TestMain(m *testing.M) {
	os.Exit(netns.Main(func() int {
		return proctest.RunTests(m, func() (err error) {
			if webLab, err = proctest.Start("lab", lab.Start); err == nil {
				if dnsLab, err = proctest.Start("lab DNS", lab.StartDNS); err == nil {
					if ftpLab, err = proctest.Start("lab FTP", lab.StartFTP); err == nil {
						tlsLab, err = proctest.Start("tls lab", lab.StartTLS)
					}
				}
			}
			return err
		})
	}))
}

// binaries are the five checks, built as released, once, with lbcheck
// beside them for the command lines they hand over.
var binaries = map[string]*proctest.Binary{}

func binary(t *testing.T, name string) string {
	t.Helper()
	b, ok := binaries[name]
	if !ok {
		b = &proctest.Binary{Name: name, Pkg: "../" + name, Env: []string{"CGO_ENABLED=0"}, Beside: []string{"../lbcheck"}}
		binaries[name] = b
	}
	return b.Build(t)
}

// numbers are masked when a daemon's summary is compared with a binary's:
// times differ from run to run.
var numbers = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// TestVerdictsLikeBinaries: a module's verdict is the binary's, on the same
// target with the same options: one vocabulary, one parser, one probe.
func TestVerdictsLikeBinaries(t *testing.T) {
	tests := []struct {
		name   string
		argv   []string
		target netip.AddrPort
	}{
		{"http ok", []string{"check_http_status"}, webLab.HTTP},
		{"http 503", []string{"check_http_status", "-u", "/status/503"}, webLab.HTTP},
		{"http expect 503", []string{"check_http_status", "-u", "/status/503", "-e", "503"}, webLab.HTTP},
		{"http redirect", []string{"check_http_status", "-u", "/redirect"}, webLab.HTTP},
		{"http body regex", []string{"check_http_status", "--body-regex", "^nope"}, webLab.HTTP},
		{"http tls", []string{"check_http_status", "--tls", "--ca-file", webLab.CAFile, "--vhost", "localhost"}, webLab.HTTPS},
		{"http refused", []string{"check_http_status"}, webLab.Closed},
		{"http garbage", []string{"check_http_status"}, webLab.Garbage},
		{"http silent", []string{"check_http_status", "-t", "0.3"}, webLab.Silent},
		{"http warning", []string{"check_http_status", "-w", "0"}, webLab.HTTP},
		{"dns ok", []string{"check_dns_answer", "--name", "www.lab.test", "--expect", "192.0.2.10"}, dnsLab.Addr},
		{"dns nxdomain", []string{"check_dns_answer", "--name", "nothing.lab.test"}, dnsLab.Addr},
		{"dns tcp", []string{"check_dns_answer", "--tcp", "--name", "mx.lab.test", "--type", "MX"}, dnsLab.Addr},
		{"dns servfail", []string{"check_dns_answer", "--name", "servfail.lab.test"}, dnsLab.Addr},
		{"ftp ok", []string{"check_ftp_noop"}, ftpLab.OK},
		{"ftp login", []string{"check_ftp_noop", "--user", lab.FTPUser, "--password", lab.FTPPassword}, ftpLab.OK},
		{"ftp busy", []string{"check_ftp_noop"}, ftpLab.Busy},
		{"ssl 1.2", []string{"check_ssl_hello"}, tlsLab.TLS12},
		{"ssl 1.3 client cert", []string{"check_ssl_hello", "--cn", lab.TLSCertName}, tlsLab.TLS13Auth},
		{"ssl wrong cn", []string{"check_ssl_hello", "--cn", "other.example"}, tlsLab.TLS12},
		{"ssl cert days", []string{"check_ssl_hello", "--cert-days", "30,7"}, tlsLab.TLS12},
		{"ssl not tls", []string{"check_ssl_hello"}, tlsLab.NotTLS},
		{"half-open open", []string{"check_tcp_half_open"}, webLab.HTTP},
		{"half-open closed", []string{"check_tcp_half_open"}, webLab.Closed},
	}
	var cfg strings.Builder
	cfg.WriteString("allow: [127.0.0.0/8, \"::1/128\"]\nmodules:\n")
	for i, tt := range tests {
		fmt.Fprintf(&cfg, "  m%d: [%s]\n", i, strings.Join(quoteAll(tt.argv), ", "))
	}
	// The half-open modules probe through the daemon's shared raw sockets.
	hmux, err := halfopen.OpenMux()
	if err != nil {
		t.Fatal(err)
	}
	defer hmux.Close()
	c, err := daemon.Parse([]byte(cfg.String()), checks.New(hmux.Spec()))
	if err != nil {
		t.Fatal(err)
	}
	d := daemon.New(context.Background(), c, nil)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := d.Check(context.Background(), daemon.Request{Module: "m" + strconv.Itoa(i), Target: tt.target.String()})
			if err != nil {
				t.Fatal(err)
			}
			ours := res.Module.Cmd.Spec.Name + " " + res.State.String() + " - " + res.Summary
			args := append(append([]string{}, tt.argv[1:]...), proctest.HostPort(tt.target)...)
			out, _ := exec.Command(binary(t, tt.argv[0]), args...).Output()
			theirs, _, _ := strings.Cut(strings.SplitN(string(out), "\n", 2)[0], " | ")
			if numbers.ReplaceAllString(ours, "N") != numbers.ReplaceAllString(theirs, "N") {
				t.Errorf("module:  %s\nbinary:  %s", ours, theirs)
			}
		})
	}
}

func quoteAll(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strconv.Quote(a)
	}
	return out
}

// daemonRun is lbcheckd started by run, in this process.
type daemonRun struct {
	http, agent string
	stderr      *syncBuffer
	done        chan int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startDaemon(t *testing.T, args ...string) *daemonRun {
	t.Helper()
	r := &daemonRun{stderr: &syncBuffer{}, done: make(chan int, 1)}
	ready := make(chan struct{})
	go func() {
		r.done <- run(args, io.Discard, r.stderr, func(h, a string) { r.http, r.agent = h, a; close(ready) })
	}()
	select {
	case <-ready:
	case code := <-r.done:
		t.Fatalf("lbcheckd exited %d: %s", code, r.stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("lbcheckd did not start")
	}
	return r
}

func (r *daemonRun) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + r.http + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *daemonRun) waitMetric(t *testing.T, line string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, body := r.get(t, "/metrics"); strings.Contains(body, "\n"+line+"\n") {
			return
		}
		if time.Now().After(deadline) {
			_, body := r.get(t, "/metrics")
			t.Fatalf("no %q on /metrics after 5 s:\n%s", line, grepLines(body, "lbcheckd_"))
		}
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func writeConfig(t *testing.T, path, modules string) {
	t.Helper()
	text := "listen: 127.0.0.1:0\nagent_listen: 127.0.0.1:0\nallow: [127.0.0.0/8]\nmodules:\n" + modules
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLifecycle: start, SIGHUP with a bad file (refused, the old one kept)
// and a good one (in force), and SIGTERM with a probe in flight, which
// ends by its deadline and is answered before the daemon exits.
func TestLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbcheckd.yml")
	writeConfig(t, path, "  up: [check_http_status]\n  slow: [check_http_status, -t, \"1\"]\n")
	r := startDaemon(t, "--config", path)
	target := "&target=" + webLab.HTTP.String()
	if code, body := r.get(t, "/check?module=up"+target); code != 200 || !strings.HasPrefix(body, "HTTP_STATUS OK - 200 OK") {
		t.Fatalf("/check: %d %q", code, body)
	}

	writeConfig(t, path, "  up: {check: [check_http_status], every: 1s}\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	r.waitMetric(t, "lbcheckd_config_last_reload_successful 0")
	if log := r.stderr.String(); !strings.Contains(log, "module up: every 1s: shorter than the module's deadline 5s (-t)") {
		t.Errorf("the log does not say why the reload was refused:\n%s", log)
	}
	writeConfig(t, path, "  up: [check_http_status]\n  slow: [check_http_status, -t, \"1\"]\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	r.waitMetric(t, "lbcheckd_config_last_reload_successful 1")

	// The half-open sockets reserved their source ports at start.
	writeConfig(t, path, "  up: [check_http_status]\n  slow: [check_http_status, -t, \"1\"]\n")
	text, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("halfopen_source_ports: 62000-62255\n"), text...), 0o644)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	r.waitMetric(t, "lbcheckd_config_last_reload_successful 0")
	if log := r.stderr.String(); !strings.Contains(log, "reload refused, the configuration in force is kept: halfopen_source_ports 62000-62255: changing it needs a restart") {
		t.Errorf("the log does not say why the reload was refused:\n%s", log)
	}
	writeConfig(t, path, "  up: [check_http_status]\n  slow: [check_http_status, -t, \"1\"]\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	r.waitMetric(t, "lbcheckd_config_last_reload_successful 1")

	writeConfig(t, path, "  up: [check_http_status, --expect, nonsense]\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	r.waitMetric(t, "lbcheckd_config_last_reload_successful 0")
	r.waitMetric(t, "blackbox_exporter_config_last_reload_successful 0") // rules written for blackbox
	if code, _ := r.get(t, "/check?module=up"+target); code != 200 {
		t.Errorf("after a bad reload, module up answers %d", code)
	}
	if log := r.stderr.String(); !strings.Contains(log, "reload refused, the configuration in force is kept: ") || !strings.Contains(log, "module up: check_http_status: bad argument: --expect") {
		t.Errorf("the log does not say why the reload was refused:\n%s", log)
	}

	writeConfig(t, path, "  renamed: [check_http_status, -u, /status/503]\n  slow: [check_http_status, -t, \"1\"]\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	r.waitMetric(t, "lbcheckd_config_last_reload_successful 1")
	r.waitMetric(t, "blackbox_exporter_config_last_reload_successful 1") // rules written for blackbox
	if code, _ := r.get(t, "/check?module=renamed"+target); code != 503 {
		t.Errorf("after a good reload, module renamed answers %d, want 503", code)
	}
	if code, _ := r.get(t, "/check?module=up"+target); code != 400 {
		t.Errorf("after a good reload, the old module answers %d, want 400", code)
	}

	type answer struct {
		code int
		body string
	}
	answered := make(chan answer, 1)
	go func() {
		code, body := r.get(t, "/check?module=slow&target="+webLab.Silent.String())
		answered <- answer{code, body}
	}()
	r.waitMetric(t, "lbcheckd_probes_in_flight 1")
	sent := time.Now()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-r.done:
		if code != 0 {
			t.Errorf("exit %d after SIGTERM: %s", code, r.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("lbcheckd still running 5 s after SIGTERM")
	}
	took := time.Since(sent)
	a := <-answered
	if a.code != 503 || !strings.Contains(a.body, "timed out") {
		t.Errorf("the probe in flight at SIGTERM: %d %q, want its own verdict", a.code, a.body)
	}
	if took > 2*time.Second {
		t.Errorf("exit %v after SIGTERM, with a probe of -t 1 in flight", took)
	}
}

// TestStartRefusesBadConfig: one line, exit 1, nothing listens.
func TestStartRefusesBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbcheckd.yml")
	for _, tt := range []struct {
		name, text, says string
	}{
		{"unknown key", "allow: [10.0.0.0/8]\nmodule: {}\n", "field module not found"},
		{"bad option", "allow: [10.0.0.0/8]\nmodules: {m: [check_ssl_hello, --starttls, smtps]}\n", "module m: check_ssl_hello: bad argument: --starttls \"smtps\""},
		{"20,000 unknown keys", "allow: [10.0.0.0/8]\nmodules: {m: [check_dns_answer]}\n" + manyKeys(20000), "and 19997 more"},
		{"missing web config", "allow: [10.0.0.0/8]\nweb_config_file: /nonexistent.yml\nmodules: {m: [check_dns_answer]}\n", "web_config_file /nonexistent.yml"},
		{"every 0", "allow: [10.0.0.0/8]\nmodules: {w: {check: [check_http_status, -t, \"1\"], every: 0}}\n", "module w: every 0: want a duration above zero"},
		{"every negative", "allow: [10.0.0.0/8]\nmodules: {w: {check: [check_http_status, -t, \"1\"], every: -1s}}\n", "module w: every -1s: want a duration above zero"},
		{"every under the deadline", "allow: [10.0.0.0/8]\nmodules: {w: {check: [check_http_status], every: 2s}}\n", "module w: every 2s: shorter than the module's deadline 5s (-t)"},
		{"bad source ports", "allow: [10.0.0.0/8]\nhalfopen_source_ports: 62000\nmodules: {h: [check_tcp_half_open]}\n", `halfopen_source_ports "62000": `},
		{"source port reused", "allow: [10.0.0.0/8]\nhalfopen_source_ports: 62000-62009\nmodules: {h: {check: [check_tcp_half_open, -t, \"1\"], every: 5s}}\n", "module h: every 5s with 10 source ports (halfopen_source_ports 62000-62009): a target would get a SYN from the same port every 50s, under 1m15s"},
	} {
		for _, args := range [][]string{{"--config", path}, {"--config", path, "--check-config"}} {
			t.Run(tt.name+" "+strings.Join(args[2:], ""), func(t *testing.T) {
				os.WriteFile(path, []byte(tt.text), 0o644)
				var stderr bytes.Buffer
				code := run(args, io.Discard, &stderr, func(string, string) { t.Error("it started") })
				lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
				if len(lines[0]) > 2<<10 {
					t.Errorf("a line of %d bytes", len(lines[0]))
				}
				if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "lbcheckd: "+path+": ") || !strings.Contains(lines[0], tt.says) {
					t.Errorf("exit %d, stderr %q; want 1 and one line saying %q", code, stderr.String(), tt.says)
				}
			})
		}
	}
	os.WriteFile(path, []byte(example), 0o644)
	var stdout bytes.Buffer
	if code := run([]string{"--config", path, "--check-config"}, &stdout, io.Discard, nil); code != 0 || !strings.Contains(stdout.String(), "OK: 3 modules") {
		t.Errorf("--check-config: %d %q", code, stdout.String())
	}
}

const example = `allow: [10.0.0.0/8, "fd00::/8"]
modules:
  http_health: [check_http_status, -u, /health]
  half_open:   [check_tcp_half_open]
  smtp_tls:    [check_ssl_hello, --starttls, smtp, --cert-days, "30,7"]
`

// TestURLTargets: /probe takes blackbox's URL targets for HTTP modules;
// the URL's scheme, host, port, path and query win over the module's,
// the Host header is the URL's host[:port] as blackbox sends it, and a
// bad URL is a 400 of one line, never a probe.
func TestURLTargets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbcheckd.yml")
	hostEcho := fmt.Sprintf(`^localhost:%d$`, webLab.HTTP.Port())
	writeConfig(t, path, "  web: [check_http_status, -u, /status/503, --tls]\n"+
		"  host: [check_http_status, --body-regex, '"+hostEcho+"']\n"+
		"  vhost: [check_http_status, --vhost, down.lab.test]\n"+
		"  tcp: [check_tcp_half_open]\n"+
		"  verified: [check_http_status, --tls, --ca-file, '"+webLab.CAFile+"']\n")
	r := startDaemon(t, "--config", path)
	plain, secure := webLab.HTTP.String(), webLab.HTTPS.String()
	tests := []struct {
		name, query string
		code        int
		want        []string
	}{
		{"http URL turns the module's --tls off, its path wins", "module=web&target=" + url.QueryEscape("http://"+plain+"/status/202?x=1"), 200,
			[]string{"probe_success 1", "probe_http_status_code 202", "probe_http_ssl 0"}},
		{"https URL", "module=web&target=" + url.QueryEscape("https://"+secure+"/"), 200,
			[]string{"probe_success 1", "probe_http_status_code 200", "probe_http_ssl 1"}},
		{"no URL: the module's own path and TLS", "module=web&target=" + secure, 200,
			[]string{"probe_success 0", "probe_http_status_code 503", "probe_http_ssl 1"}},
		{"Host header is the URL's host:port", "module=host&target=" + url.QueryEscape(fmt.Sprintf("http://localhost:%d/echo/host", webLab.HTTP.Port())), 200,
			[]string{"probe_success 1", "probe_failed_due_to_regex 0"}},
		{"the module's --vhost wins, as a Host header in a blackbox module", "module=vhost&target=" + url.QueryEscape("http://"+plain+"/"), 200,
			[]string{"probe_http_status_code 503"}},
		{"https URL with --ca-file: a verified chain's expiry", "module=verified&target=" + url.QueryEscape(fmt.Sprintf("https://localhost:%d/", webLab.HTTPS.Port())), 200,
			[]string{"probe_success 1", "probe_http_ssl 1", "probe_ssl_last_chain_expiry_timestamp_seconds " + certExpiry(t, webLab.CAFile) + "\n"}},
		{"http URL on a --ca-file module: no TLS, its TLS options unused", "module=verified&target=" + url.QueryEscape("http://"+plain+"/status/202"), 200,
			[]string{"probe_success 1", "probe_http_status_code 202", "probe_http_ssl 0"}},
		{"debug page: the URL's options on the command line", "module=web&debug=true&target=" + url.QueryEscape("http://"+plain+"/status/202"), 200,
			[]string{"probe_http_status_code 202", "--tls=false --path /status/202 --vhost " + plain}},
		{"bad URL", "module=web&target=" + url.QueryEscape("http://[::1/"), 400, []string{"not a URL"}},
		{"bad scheme", "module=web&target=" + url.QueryEscape("ftp://"+plain+"/"), 400, []string{"want http or https"}},
		{"not an HTTP module", "module=tcp&target=" + url.QueryEscape("http://"+plain+"/"), 400, []string{"needs a check_http_status module"}},
		{"allow applies to the URL's host", "module=web&target=" + url.QueryEscape("http://192.0.2.1/"), 403, []string{"outside allow"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := r.get(t, "/probe?"+tt.query)
			if code != tt.code {
				t.Errorf("status %d, want %d\n%s", code, tt.code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("no %q in\n%s", w, body)
				}
			}
			if code != 200 && strings.Count(strings.TrimSpace(body), "\n") > 0 {
				t.Errorf("a refusal of more than one line:\n%s", body)
			}
		})
	}
}

// certExpiry is the NotAfter of the PEM certificate in file, as the
// exposition writes it.
func certExpiry(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", file)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatFloat(float64(c.NotAfter.Unix()), 'g', -1, 64)
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "unknown_key_%05d: 1\n", i)
	}
	return b.String()
}

// TestWatchedFronts: a watched module against the lab's web server: one
// probe serves the agent, /check and /probe from memory; /watches and
// /metrics show the watch; the schedule probes again at every; SIGTERM
// ends it at once.
func TestWatchedFronts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbcheckd.yml")
	writeConfig(t, path, "  w: {check: [check_http_status, -t, \"1\"], every: 1s}\n")
	r := startDaemon(t, "--config", path)
	target := webLab.HTTP.String()
	if code, body := r.get(t, "/check?module=w&target="+target); code != 200 || !strings.HasPrefix(body, "HTTP_STATUS OK - 200 OK") {
		t.Fatalf("/check: %d %q", code, body)
	}
	c, err := net.Dial("tcp", r.agent)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "w "+webLab.HTTP.Addr().String()+" "+strconv.Itoa(int(webLab.HTTP.Port()))+"\n")
	c.SetDeadline(time.Now().Add(3 * time.Second))
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "up\n" {
		t.Errorf("agent: %q", got)
	}
	if code, body := r.get(t, "/probe?module=w&target="+target); code != 200 || !strings.Contains(body, "\nprobe_verdict_age_seconds ") {
		t.Errorf("/probe: %d\n%s", code, body)
	}
	r.waitMetric(t, `lbcheckd_watches{module="w"} 1`)
	r.waitMetric(t, `lbcheckd_watch_answers_total{front="agent"} 1`)
	r.waitMetric(t, `lbcheckd_watch_answers_total{front="check"} 1`)
	r.waitMetric(t, `lbcheckd_watch_answers_total{front="probe"} 1`)
	// The schedule's own probes: at least two more within 2.5 s.
	r.waitMetric(t, `lbcheckd_probes_total{module="w",result="ok"} 3`)
	if code, body := r.get(t, "/watches"); code != 200 || !strings.Contains(body, `probe_success{module="w",target="`+target+`"} 1`) {
		t.Errorf("/watches: %d\n%s", code, body)
	}
	sent := time.Now()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-r.done:
		if code != 0 {
			t.Errorf("exit %d after SIGTERM: %s", code, r.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("lbcheckd still running 5 s after SIGTERM")
	}
	if took := time.Since(sent); took > time.Second {
		t.Errorf("exit %v after SIGTERM with a watch", took)
	}
}

// TestMuxFatal: a named source port range that cannot be reserved stops
// the start; missing privilege, or trouble with the default range, does
// not (half-open probes are then UNKNOWN).
func TestMuxFatal(t *testing.T) {
	named := halfopen.PortRange{First: 62000, Last: 62255}
	taken := fmt.Errorf("reserve source port 62000: %w", syscall.EADDRINUSE)
	noCap := fmt.Errorf("IPv4 raw socket: %w", halfopen.ErrNoPrivilege)
	for _, tt := range []struct {
		name  string
		err   error
		ports halfopen.PortRange
		fatal bool
	}{
		{"named range taken", taken, named, true},
		{"named range, no privilege", noCap, named, false},
		{"default range taken", taken, halfopen.PortRange{}, false},
		{"default range, no privilege", noCap, halfopen.PortRange{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := muxFatal(tt.err, tt.ports); got != tt.fatal {
				t.Errorf("muxFatal = %v, want %v", got, tt.fatal)
			}
		})
	}
}
